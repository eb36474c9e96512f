/**
 * The simulation's safety oracle. It sees every node's persisted entries, commits,
 * applies, elections and reads, keeps the global facts they imply, and throws
 * {@link InvariantViolation} the moment one of Raft's safety properties breaks:
 *
 * - election safety: at most one leader per term;
 * - log matching: an (index, term) pair identifies the entry and everything before it;
 * - leader completeness: an entry committed in term T is in the log of every leader of a later term;
 * - state machine safety: every node applies the same entry at each index, with the same state after it;
 * - monotonicity: commit and applied never go back within a life, persisted commit never goes back;
 * - membership: no configuration change admits two disjoint majorities;
 * - linearizable reads: a ReadIndex is at least the highest commit known when the read was asked.
 */
import {
  type ConfState,
  disjointMajoritiesPossible,
  type Entry,
  type HardState,
  type NodeId,
} from "../../raft/index.ts";

/** A broken safety property. `invariant` is its short name. */
export class InvariantViolation extends Error {
  override readonly name = "InvariantViolation";
  constructor(
    readonly invariant: string,
    detail: string,
  ) {
    super(`${invariant}: ${detail}`);
  }
}

const decoder = new TextDecoder();

/** A printable identity of an entry's content. */
export function entryKey(e: Entry): string {
  return `${e.type}:${decoder.decode(e.data)}`;
}

/** FNV-1a over a string: the simulated state machine's rolling digest. */
export function digest(prev: number, s: string): number {
  let h = prev ^ 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The global facts the simulation has established, and the checks against them. */
export class Oracle {
  private readonly leaders = new Map<number, NodeId>();
  /** `${index}:${term}` -> `${prevTerm}|${content}` */
  private readonly logPairs = new Map<string, string>();
  /** index -> the committed entry's term, and the lowest term in which it was known committed */
  private readonly committed = new Map<number, { term: number; commitTerm: number }>();
  private maxCommit = 0;
  /** index -> content applied there and the state digest after it */
  private readonly applied = new Map<number, { key: string; digest: number }>();
  private readonly reads = new Map<string, number>();
  /** Counters for the run summary. */
  readonly stats = { elections: 0, commits: 0, applies: 0, reads: 0, confChanges: 0 };

  /** `node` is leader in `term`. */
  leader(node: NodeId, term: number, termAt: (i: number) => number | undefined, firstIndex: number): void {
    const other = this.leaders.get(term);
    if (other !== undefined && other !== node) {
      throw new InvariantViolation("election safety", `${other} and ${node} are both leader in term ${term}`);
    }
    if (other === undefined) this.stats.elections++;
    this.leaders.set(term, node);
    for (const [i, c] of this.committed) {
      if (c.commitTerm >= term || i < firstIndex) continue;
      const t = termAt(i);
      if (t !== c.term) {
        throw new InvariantViolation(
          "leader completeness",
          `${node} leads term ${term} but has term ${t ?? "none"} at index ${i}, committed with term ${c.term} in term ${c.commitTerm}`,
        );
      }
    }
  }

  /** `node` persisted `e`, whose predecessor in its log has `prevTerm`. */
  persisted(node: NodeId, e: Entry, prevTerm: number | undefined): void {
    const k = `${e.index}:${e.term}`;
    const v = `${prevTerm ?? "?"}|${entryKey(e)}`;
    const known = this.logPairs.get(k);
    if (known === undefined) {
      this.logPairs.set(k, v);
      return;
    }
    if (known === v) return;
    const [kp, ...kc] = known.split("|");
    const [vp, ...vc] = v.split("|");
    // An unknown predecessor term (compacted away) cannot be compared; the content still can.
    if (kc.join("|") === vc.join("|") && (kp === "?" || vp === "?")) return;
    throw new InvariantViolation("log matching", `${node} has ${v} at ${k}, another node has ${known}`);
  }

  /** A conf entry moved `node` from `before` to `after`. */
  confChange(node: NodeId, index: number, before: ConfState, after: ConfState): void {
    this.stats.confChanges++;
    if (disjointMajoritiesPossible(before.voters, after.voters)) {
      throw new InvariantViolation(
        "membership",
        `${node}: change at ${index} from [${before.voters}] to [${after.voters}] admits disjoint majorities`,
      );
    }
  }

  /** `node`, in `nodeTerm`, learned that index `i` (of term `term`) is committed. */
  commit(node: NodeId, i: number, term: number, nodeTerm: number): void {
    const c = this.committed.get(i);
    if (c === undefined) {
      this.committed.set(i, { term, commitTerm: nodeTerm });
      this.stats.commits++;
    } else if (c.term !== term) {
      throw new InvariantViolation(
        "state machine safety",
        `${node} committed term ${term} at index ${i}, but term ${c.term} was committed there`,
      );
    } else if (nodeTerm < c.commitTerm) {
      c.commitTerm = nodeTerm;
    }
    if (i > this.maxCommit) this.maxCommit = i;
  }

  /** `node` applied `e` and reached state `digestAfter`. */
  apply(node: NodeId, e: Entry, digestAfter: number): void {
    const key = `${e.term}:${entryKey(e)}`;
    const a = this.applied.get(e.index);
    if (a === undefined) {
      this.applied.set(e.index, { key, digest: digestAfter });
      this.stats.applies++;
      return;
    }
    if (a.key !== key || a.digest !== digestAfter) {
      throw new InvariantViolation(
        "state machine safety",
        `${node} applied ${key} at ${e.index}; another node applied ${a.key}`,
      );
    }
  }

  /** `node` restored a snapshot at `index` whose state digest is `d`. */
  restore(node: NodeId, index: number, d: number): void {
    if (index === 0) return;
    const a = this.applied.get(index);
    if (a !== undefined && a.digest !== d) {
      throw new InvariantViolation(
        "state machine safety",
        `${node} restored a snapshot at ${index} that differs from the applied state`,
      );
    }
  }

  /** Persisted hard state of `node` went from `before` to `after`. */
  hardState(node: NodeId, before: HardState, after: HardState): void {
    if (after.commit < before.commit) {
      throw new InvariantViolation(
        "commit monotonic",
        `${node} persisted commit ${after.commit} after ${before.commit}`,
      );
    }
    if (after.term < before.term) {
      throw new InvariantViolation(
        "term monotonic",
        `${node} persisted term ${after.term} after ${before.term}`,
      );
    }
    if (after.term === before.term && before.vote !== "" && after.vote !== before.vote) {
      throw new InvariantViolation(
        "one vote per term",
        `${node} voted ${before.vote} then ${after.vote} in term ${after.term}`,
      );
    }
  }

  /** A read was asked with `context`: its answer must cover everything committed so far. */
  readAsked(context: string): void {
    this.reads.set(context, this.maxCommit);
  }

  /** A read with `context` was answered with `index`. */
  readAnswered(node: NodeId, context: string, index: number): void {
    const min = this.reads.get(context);
    if (min === undefined) return;
    this.stats.reads++;
    if (index < min) {
      throw new InvariantViolation(
        "linearizable read",
        `${node} read ${context} at ${index}, but ${min} was already committed`,
      );
    }
  }

  /** The highest index known committed anywhere. */
  highestCommit(): number {
    return this.maxCommit;
  }
}
