/**
 * Majority arithmetic over a voter set: the commit index a quorum has reached and the
 * outcome of a vote. Pure functions so the simulation can reuse them in its checks.
 */
import type { NodeId } from "./types.ts";

/** Votes needed for a majority of `n` voters. */
export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/**
 * The highest index that a majority of `voters` has matched, given each voter's match
 * (missing voters count as 0). With no voters, returns +Infinity (nothing constrains it;
 * callers never commit without voters).
 */
export function committedIndex(voters: readonly NodeId[], match: (id: NodeId) => number): number {
  if (voters.length === 0) return Number.POSITIVE_INFINITY;
  const m = voters.map(match).sort((a, b) => b - a);
  return m[majority(voters.length) - 1]!;
}

/** The outcome of an election so far. */
export type VoteResult = "won" | "lost" | "pending";

/** Tally `votes` (true = granted) over `voters`; voters that have not answered are pending. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return "won";
  let yes = 0;
  let no = 0;
  for (const v of voters) {
    const r = votes.get(v);
    if (r === true) yes++;
    else if (r === false) no++;
  }
  const need = majority(voters.length);
  if (yes >= need) return "won";
  if (voters.length - no < need) return "lost";
  return "pending";
}

/**
 * Whether two voter sets admit two disjoint majorities (one of each). A safe membership
 * change never allows this between a configuration and its successor.
 */
export function disjointMajoritiesPossible(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  if (a.length === 0 || b.length === 0) return false;
  const bs = new Set(b);
  const shared = a.filter((x) => bs.has(x)).length;
  const onlyA = a.length - shared;
  const onlyB = b.length - shared;
  // Each majority takes as many members outside the other set as it can; the rest must
  // come from the shared members, and both remainders must fit in them disjointly.
  const needA = Math.max(0, majority(a.length) - onlyA);
  const needB = Math.max(0, majority(b.length) - onlyB);
  return needA + needB <= shared;
}
