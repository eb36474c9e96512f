/**
 * The campaign's one-log checker (test/campaign/check-one-log.ts) on hand-made logs: logs that
 * agree up to the shortest pass (a longer tail is not compared); a differing hash and a failed
 * or unreachable audit are found.
 */
import test from "ava";
import type { CampaignEvent } from "../../campaign/campaign-event.ts";
import { checkOneLog, type ElectorLog } from "../../campaign/check-one-log.ts";

const e = (id: number, hash = `h${id}`): CampaignEvent => ({
  id,
  term: 1,
  time: "2026-12-08T00:00:00.000Z",
  type: "member-joined",
  member: "m1",
  service: null,
  details: {},
  hash,
});
const ok = { ok: true, checked: 3, reason: "" };
const log = (elector: string, events: CampaignEvent[], audit: ElectorLog["audit"] = ok): ElectorLog => ({
  elector,
  events,
  audit,
});

test("logs that agree up to the shortest pass", (t) => {
  const v = checkOneLog([
    log("e1", [e(2), e(3), e(5)]),
    log("e2", [e(2), e(3), e(5), e(7)]),
    log("e3", [e(2), e(3), e(5)]),
  ]);
  t.deepEqual(v.violations, []);
  t.is(v.count, 9);
});

test("a differing hash, a missing event and a failed audit are violations", (t) => {
  const v = checkOneLog([
    log("e1", [e(2), e(3, "other"), e(5)]),
    log("e2", [e(2), e(3), e(5)]),
    log("e3", [e(2), e(5)], { ok: false, checked: 0, reason: "event 3: hash mismatch" }),
  ]);
  t.true(v.violations.some((x) => /differ at event 3/.test(x.what)));
  t.true(v.violations.some((x) => /e3: audit verify failed/.test(x.what)));
  const down = checkOneLog([log("e1", [e(2)]), log("e2", [e(2)], { error: "UNAVAILABLE" })]);
  t.true(down.violations.some((x) => /could not run/.test(x.what)));
});
