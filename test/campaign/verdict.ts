/**
 * What every checker of the campaign returns: how many things it looked at (so a round that
 * checked nothing is visible, never a silent pass) and each violation with its evidence.
 */

/** One broken promise, with what shows it. */
export interface Violation {
  /** One line: what is wrong. */
  readonly what: string;
  /** The records that show it, one per line. */
  readonly evidence: readonly string[];
}

/** The verdict of one checker on one round. */
export interface CheckerVerdict {
  /** The checker's name, as the output's column heads print it. */
  readonly checker: CheckerName;
  /** How many things it checked (its unit is in {@link CHECKER_UNITS}). */
  readonly count: number;
  readonly violations: readonly Violation[];
  /** Figures worth printing that are not violations (tolerated repeats, inconclusive searches). */
  readonly notes?: readonly string[];
}

/** The checkers, in output order. */
export const CHECKERS = [
  "exactly-once",
  "masters",
  "one-log",
  "member-down",
  "kv",
  "checks-truth",
  "converge",
] as const;
/** Checkers that run only in some rounds (`dns`: in network namespaces, with BIND9). */
export const OPTIONAL_CHECKERS = ["dns"] as const;
export type CheckerName = (typeof CHECKERS)[number] | (typeof OPTIONAL_CHECKERS)[number];

/** What each checker's count counts. */
export const CHECKER_UNITS: Record<CheckerName, string> = {
  "exactly-once": "(event, handler) pairs",
  masters: "master spans",
  "one-log": "events compared across electors",
  "member-down": "silences and member-down events judged",
  kv: "kv operations checked",
  "checks-truth": "passing claims judged",
  converge: "rounds converged",
  dns: "dig answers judged",
};
