/**
 * The campaign's never-two-masters checker (test/campaign/check-masters.ts) on hand-made
 * script records: clean hand-overs pass; overlapping spans, an epoch going down and a
 * master-promoted epoch that does not grow are found.
 */
import test from "ava";
import type { ScriptRecord } from "../../support/service-fixtures.ts";
import type { CampaignEvent } from "../../campaign/campaign-event.ts";
import { checkMasters } from "../../campaign/check-masters.ts";

const rec = (
  ns: number,
  member: string,
  script: string,
  phase: "begin" | "end",
  epoch: number,
): ScriptRecord => ({
  ns: BigInt(ns),
  member,
  service: "db",
  script,
  phase,
  epoch,
  reason: "",
});
const promoted = (id: number, member: string, epoch: number): CampaignEvent => ({
  id,
  term: 1,
  time: "2026-12-08T00:00:00.000Z",
  type: "master-promoted",
  member,
  service: "db",
  details: { epoch },
  hash: `h${id}`,
});

const handOver = [
  rec(100, "m1", "promote", "begin", 1),
  rec(110, "m1", "promote", "end", 1),
  rec(200, "m1", "demote", "begin", 1),
  rec(210, "m1", "demote", "end", 1),
  rec(300, "m2", "promote", "begin", 2),
  rec(310, "m2", "promote", "end", 2),
];

test("a clean hand-over passes and counts its spans", (t) => {
  const v = checkMasters({
    service: "db",
    records: handOver,
    events: [promoted(3, "m1", 1), promoted(9, "m2", 2)],
  });
  t.deepEqual(v.violations, []);
  t.is(v.count, 2);
});

test("a promote before the old master's demote ended: two masters", (t) => {
  const records = [
    ...handOver.slice(0, 3),
    rec(205, "m2", "promote", "begin", 2),
    rec(210, "m1", "demote", "end", 1),
  ];
  const v = checkMasters({ service: "db", records, events: [] });
  t.is(v.violations.length, 1);
  t.regex(v.violations[0]!.what, /two masters of db: m1 and m2/);
});

test("epochs that go down are found, in the scripts and in the log", (t) => {
  const records = [
    ...handOver,
    rec(400, "m2", "demote", "begin", 2),
    rec(410, "m2", "demote", "end", 2),
    rec(500, "m3", "promote", "begin", 1),
  ];
  const v = checkMasters({ service: "db", records, events: [promoted(3, "m1", 2), promoted(9, "m2", 2)] });
  t.true(v.violations.some((x) => /epoch 1 began after a promote at epoch 2/.test(x.what)));
  t.true(v.violations.some((x) => /does not grow/.test(x.what)));
});
