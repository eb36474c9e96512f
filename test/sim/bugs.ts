/**
 * Classic Raft bugs, injected from test code by patching prototypes at run time, to show
 * that the simulation finds them. Nothing in raft/ knows about these: production code has
 * no test-only branch. Each injector returns a function that undoes the patch.
 */
import { RaftLog } from "../../raft/raft-log.ts";

/** An injectable bug. */
export interface InjectedBug {
  readonly name: string;
  readonly description: string;
  inject(): () => void;
}

function patch<K extends keyof RaftLog>(key: K, replacement: RaftLog[K]): () => void {
  const proto = RaftLog.prototype as RaftLog;
  const original = proto[key];
  proto[key] = replacement;
  return () => {
    proto[key] = original;
  };
}

/** The bugs the simulation must find. */
export const BUGS: readonly InjectedBug[] = [
  {
    name: "vote-without-log-check",
    description: "grant votes without the election restriction (candidate's log at least as up to date)",
    inject: () => patch("isUpToDate", () => true),
  },
  {
    name: "commit-old-term",
    description: "commit by counting replicas even for an entry of an earlier term (Figure 8)",
    inject: () =>
      patch("maybeCommit", function (this: RaftLog, maxIndex: number): boolean {
        if (maxIndex > this.committed) {
          this.commitTo(maxIndex);
          return true;
        }
        return false;
      }),
  },
  {
    name: "truncate-committed",
    description:
      "a follower accepts entries after any matching index without truncating a conflicting suffix",
    inject: () =>
      patch("findConflict", function (this: RaftLog, ents) {
        for (const e of ents) if (this.term(e.index) === undefined) return e.index;
        return 0;
      }),
  },
];
