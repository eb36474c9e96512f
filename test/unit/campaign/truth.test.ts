/**
 * The campaign's checks-tell-the-truth checker (test/campaign/check-truth.ts) on hand-made
 * application changes and logs (offset 0: second s is s × 1e9 ns): passing claims while the
 * application works, or early in a failure, pass; a restarted agent that registers passing, or a
 * check-passing, long into a failure is found; a member paused in the bound is excused.
 */
import test from "ava";
import type { CampaignEvent } from "../../campaign/campaign-event.ts";
import type { AppTransition } from "../../campaign/check-server.ts";
import { checkTruth } from "../../campaign/check-truth.ts";

const S = 1_000_000_000n;
const ev = (id: number, seconds: number, type: string, details: Record<string, unknown>): CampaignEvent => ({
  id,
  term: 1,
  time: new Date(seconds * 1000).toISOString(),
  type,
  member: "m1",
  service: null,
  details,
  hash: `h${id}`,
});
const fail = (from: number, to: number): AppTransition[] => [
  { member: "m1", failing: true, at: BigInt(from) * S },
  { member: "m1", failing: false, at: BigInt(to) * S },
];
const check = (transitions: AppTransition[], events: CampaignEvent[], paused = false) =>
  checkTruth({
    check: "app",
    transitions,
    events,
    offsetNs: 0n,
    faults: paused ? [{ node: "m1", role: "member", kind: "pause", from: 14n * S, to: 19n * S }] : [],
  });

test("passing while the application works, or early in its failure: no violation", (t) => {
  const v = check(fail(10, 20), [
    ev(1, 5, "check-passing", { check: "app" }),
    ev(2, 11, "check-passing", { check: "app" }),
    ev(3, 22, "member-up", { checks: { app: "passing" } }),
  ]);
  t.deepEqual(v.violations, []);
  t.is(v.count, 3);
});

test("a restarted agent registering passing long into a failure is found", (t) => {
  const v = check(fail(10, 30), [
    ev(1, 15, "member-joined", { checks: { app: "pending" } }),
    ev(2, 18, "member-joined", { checks: { app: "passing" } }),
    ev(3, 20, "check-passing", { check: "app" }),
  ]);
  t.is(v.violations.length, 2);
  t.regex(v.violations[0]!.what, /m1's check app committed passing \(event 2 member-joined\)/);
});

test("a member paused within the bound is excused", (t) => {
  t.deepEqual(check(fail(10, 30), [ev(3, 20, "check-passing", { check: "app" })], true).violations, []);
});
