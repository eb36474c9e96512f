/**
 * Checker 2, never two masters, over the service scripts' own CLOCK_MONOTONIC records
 * (test/support/service-fixtures.ts: `NS MEMBER SERVICE SCRIPT begin|end EPOCH REASON`) and
 * the committed log:
 *
 * - no two promote-begin → demote-end spans of one service, on different members, overlap;
 * - the epochs of `promote` runs, in the order they began, never go down, and the committed
 *   `master-promoted` epochs of a service strictly grow in log order.
 *
 * Pure: no I/O.
 */
import { masterSpans, overlaps, type ScriptRecord } from "../support/service-fixtures.ts";
import type { CampaignEvent } from "./campaign-event.ts";
import type { CheckerVerdict, Violation } from "./verdict.ts";

/** What {@link checkMasters} needs. */
export interface MastersInput {
  readonly service: string;
  /** The scripts' records, in any order. */
  readonly records: readonly ScriptRecord[];
  readonly events: readonly CampaignEvent[];
}

const showRecord = (r: ScriptRecord) =>
  `${r.ns} ${r.member} ${r.service} ${r.script} ${r.phase} epoch ${r.epoch} ${r.reason}`.trim();

/** Checker 2: see the file's comment. */
export function checkMasters(input: MastersInput): CheckerVerdict {
  const violations: Violation[] = [];
  const records = input.records
    .filter((r) => r.service === input.service)
    .slice()
    .sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
  const spans = masterSpans(records, input.service);
  for (const [a, b] of overlaps(spans)) {
    violations.push({
      what: `two masters of ${input.service}: ${a.member} and ${b.member} at once`,
      evidence: [
        `${a.member}: promote began ${a.from}, demote ended ${a.to ?? "never"}`,
        `${b.member}: promote began ${b.from}, demote ended ${b.to ?? "never"}`,
        ...records
          .filter((r) => r.script === "promote" || r.script === "demote")
          .filter((r) => r.member === a.member || r.member === b.member)
          .map(showRecord),
      ],
    });
  }
  let highest: ScriptRecord | null = null;
  for (const r of records) {
    if (r.script !== "promote" || r.phase !== "begin") continue;
    if (highest && r.epoch < highest.epoch) {
      violations.push({
        what: `${input.service}: ${r.member}'s promote at epoch ${r.epoch} began after a promote at epoch ${highest.epoch}`,
        evidence: [showRecord(highest), showRecord(r)],
      });
    }
    if (!highest || r.epoch > highest.epoch) highest = r;
  }
  let last: CampaignEvent | null = null;
  for (const e of input.events) {
    if (e.type !== "master-promoted" || e.service !== input.service) continue;
    if (last && Number(e.details.epoch) <= Number(last.details.epoch)) {
      violations.push({
        what: `${input.service}: master-promoted epoch ${String(e.details.epoch)} (event ${e.id}) does not grow past ${String(last.details.epoch)} (event ${last.id})`,
        evidence: [JSON.stringify(last), JSON.stringify(e)],
      });
    }
    last = e;
  }
  return { checker: "masters", count: spans.length, violations };
}
