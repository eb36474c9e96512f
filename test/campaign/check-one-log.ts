/**
 * Checker 6, one log: every elector's committed events agree (same id, same hash) up to the
 * lowest index all of them hold, over the ids every one of them still retains; and `audit
 * verify` (the control API's AuditVerify, which recomputes the hash chain) passed on each.
 *
 * Pure: no I/O.
 */
import type { CampaignEvent } from "./campaign-event.ts";
import type { CheckerVerdict, Violation } from "./verdict.ts";

/** One elector's log and its audit. */
export interface ElectorLog {
  readonly elector: string;
  readonly events: readonly CampaignEvent[];
  /** Its AuditVerify answer, or why it could not be asked. */
  readonly audit:
    { readonly ok: boolean; readonly checked: number; readonly reason: string } | { readonly error: string };
}

/** Checker 6: see the file's comment. */
export function checkOneLog(logs: readonly ElectorLog[]): CheckerVerdict {
  const violations: Violation[] = [];
  for (const l of logs) {
    if ("error" in l.audit) {
      violations.push({ what: `${l.elector}: audit verify could not run`, evidence: [l.audit.error] });
    } else if (!l.audit.ok) {
      violations.push({ what: `${l.elector}: audit verify failed`, evidence: [l.audit.reason] });
    }
  }
  if (logs.length === 0) return { checker: "one-log", count: 0, violations };
  const top = Math.min(...logs.map((l) => l.events.at(-1)?.id ?? 0));
  const bottom = Math.max(...logs.map((l) => l.events[0]?.id ?? 0));
  const maps = logs.map((l) => new Map(l.events.map((e) => [e.id, e])));
  const ids = new Set<number>();
  for (const l of logs) for (const e of l.events) if (e.id >= bottom && e.id <= top) ids.add(e.id);
  let compared = 0;
  for (const id of [...ids].sort((a, b) => a - b)) {
    const seen = maps.map((m) => m.get(id));
    const hashes = new Set(seen.map((e) => e?.hash ?? "missing"));
    compared++;
    if (hashes.size > 1) {
      violations.push({
        what: `the electors' logs differ at event ${id}`,
        evidence: logs.map((l, i) => `${l.elector}: ${seen[i] ? JSON.stringify(seen[i]) : "missing"}`),
      });
      if (violations.length > 10) break;
    }
  }
  return { checker: "one-log", count: compared * logs.length, violations };
}
