/**
 * Single-server membership changes (Raft dissertation §4.1): each change adds or removes
 * at most one voter, so the old and new majorities always overlap. A configuration takes
 * effect on a node as soon as its entry is in that node's log, committed or not, and is
 * reverted if the entry is truncated. The leader allows one uncommitted change at a time
 * and only after it has committed an entry of its own term.
 */
import { ConfChangeRefusedError } from "./errors.ts";
import type { ConfChange, ConfState, NodeId } from "./types.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Encode a change as the data of a `conf` entry. */
export function encodeConfChange(cc: ConfChange): Uint8Array {
  return encoder.encode(JSON.stringify(cc));
}

/** Decode the data of a `conf` entry. @throws Error naming the problem when it is not a change. */
export function decodeConfChange(data: Uint8Array): ConfChange {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(data));
  } catch {
    throw new Error("conf change: data is not JSON");
  }
  if (typeof v !== "object" || v === null) throw new Error("conf change: not an object");
  const o = v as Record<string, unknown>;
  if (!["add-learner", "add-voter", "promote", "remove"].includes(o.type as string)) {
    throw new Error(`conf change: unknown type ${String(o.type)}`);
  }
  if (typeof o.node !== "string" || o.node === "")
    throw new Error("conf change: node must be a non-empty string");
  if (o.context !== undefined && typeof o.context !== "string")
    throw new Error("conf change: context must be a string");
  return o as unknown as ConfChange;
}

function without(ids: readonly NodeId[], id: NodeId): NodeId[] {
  return ids.filter((x) => x !== id);
}

function withId(ids: readonly NodeId[], id: NodeId): NodeId[] {
  return [...without(ids, id), id].sort();
}

/**
 * Why `cc` cannot be applied to `conf`, or null when it can. Used by the leader to refuse
 * a change before it is proposed (followers apply whatever the leader replicated).
 */
export function confChangeProblem(conf: ConfState, cc: ConfChange): string | null {
  const isVoter = conf.voters.includes(cc.node);
  const isLearner = conf.learners.includes(cc.node);
  switch (cc.type) {
    case "add-learner":
      return isVoter || isLearner ? `${cc.node} is already a member` : null;
    case "add-voter":
      return isVoter || isLearner ? `${cc.node} is already a member` : null;
    case "promote":
      return isLearner ? null : `${cc.node} is not a learner`;
    case "remove":
      if (!isVoter && !isLearner) return `${cc.node} is not a member`;
      if (isVoter && conf.voters.length === 1) return `${cc.node} is the last voter`;
      return null;
  }
}

/** The configuration after `cc`. A no-op when `cc` does not apply (already applied). */
export function applyConfChange(conf: ConfState, cc: ConfChange): ConfState {
  switch (cc.type) {
    case "add-learner":
      if (conf.voters.includes(cc.node)) return conf;
      return { voters: conf.voters, learners: withId(conf.learners, cc.node) };
    case "add-voter":
    case "promote":
      return { voters: withId(conf.voters, cc.node), learners: without(conf.learners, cc.node) };
    case "remove":
      return { voters: without(conf.voters, cc.node), learners: without(conf.learners, cc.node) };
  }
}

/** Throws {@link ConfChangeRefusedError} when `cc` cannot be applied to `conf`. */
export function assertConfChange(conf: ConfState, cc: ConfChange): void {
  const problem = confChangeProblem(conf, cc);
  if (problem !== null) throw new ConfChangeRefusedError(problem);
}
