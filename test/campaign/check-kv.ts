/**
 * Checker 4, kv is linearizable: the history the kv clients recorded, through the project's
 * own checker (linearizability.ts: Wing & Gong with per-key partitioning). A search that ran out
 * of budget is reported as a note, not as a pass or a violation.
 *
 * Pure: no I/O.
 */
import type { KvHistory } from "./kv-history.ts";
import { checkLinearizability } from "./linearizability.ts";
import type { CheckerVerdict } from "./verdict.ts";

/** Checker 4: see the file's comment. */
export function checkKv(history: KvHistory): CheckerVerdict {
  const r = checkLinearizability(history);
  if (r.ok === true) {
    return {
      checker: "kv",
      count: r.ops,
      violations: [],
      notes: [`${r.keys} keys, ${r.dropped} ops without effect dropped`],
    };
  }
  if (r.ok === "unknown") {
    return { checker: "kv", count: 0, violations: [], notes: [`inconclusive: ${r.reason}`] };
  }
  return {
    checker: "kv",
    count: history.length,
    violations: [
      {
        what: `kv history not linearizable on key ${JSON.stringify(r.key)}`,
        evidence: r.evidence.summary.split("\n"),
      },
    ],
  };
}
