/**
 * The campaign's lost / phantom member-down checker (test/campaign/check-member-down.ts) on
 * hand-made fault windows and logs (event times map onto the monotonic clock with offset 0, so
 * a fault at second s is at s × 1e9 ns): a long silence with its member-down passes; a long
 * silence without one is lost; a short one needs none; a member-down with no fault to explain it
 * is a phantom, unless a leader was just elected or an elector was under a fault.
 */
import test from "ava";
import type { CampaignEvent } from "../../campaign/campaign-event.ts";
import { checkMemberDown, type FaultWindow } from "../../campaign/check-member-down.ts";

const S = 1_000_000_000n;
const at = (seconds: number) => new Date(seconds * 1000).toISOString();
const ev = (id: number, seconds: number, type: string, member: string | null = "m1"): CampaignEvent => ({
  id,
  term: 1,
  time: at(seconds),
  type,
  member,
  service: null,
  details: type === "leader-elected" ? { leader: "e1" } : {},
  hash: `h${id}`,
});
const kill = (node: string, from: number, to: number, role: FaultWindow["role"] = "member"): FaultWindow => ({
  node,
  role,
  kind: "kill",
  from: BigInt(from) * S,
  to: BigInt(to) * S,
});
const base = [ev(1, 1, "leader-elected", null), ev(2, 2, "member-joined"), ev(3, 2, "member-joined", "m2")];
const check = (faults: FaultWindow[], events: CampaignEvent[]) =>
  checkMemberDown({ members: ["m1", "m2"], faults, events, offsetNs: 0n, memberTimeoutMs: 1500 });

test("a member killed for 5 s with its member-down: no violation", (t) => {
  const v = check([kill("m1", 10, 15)], [...base, ev(4, 11.6, "member-down"), ev(5, 16, "member-up")]);
  t.deepEqual(v.violations, []);
  t.is(v.count, 2); // the silence and the member-down
});

test("a member killed for 5 s and never declared down: lost", (t) => {
  const v = check([kill("m1", 10, 15)], [...base, ev(5, 16, "member-joined")]);
  t.is(v.violations.length, 1);
  t.regex(v.violations[0]!.what, /lost member-down: m1/);
});

test("a silence shorter than member_timeout + margin needs no member-down", (t) => {
  t.deepEqual(check([kill("m1", 10, 12)], base).violations, []);
});

test("a silence cut by elections into short calm stretches needs none either", (t) => {
  const events = [...base, ev(6, 11.5, "leader-elected", null), ev(7, 13, "leader-elected", null)];
  t.deepEqual(check([kill("m1", 10, 14)], events).violations, []);
});

test("a member-down of a member nobody touched is a phantom", (t) => {
  const v = check(
    [kill("m1", 10, 15)],
    [...base, ev(4, 11.6, "member-down"), ev(8, 30, "member-down", "m2")],
  );
  t.is(v.violations.length, 1);
  t.regex(v.violations[0]!.what, /phantom member-down: m2/);
});

test("a member-down just after an election or during an elector's fault is not judged a phantom", (t) => {
  t.deepEqual(
    check([], [...base, ev(9, 29, "leader-elected", null), ev(10, 30, "member-down", "m2")]).violations,
    [],
  );
  t.deepEqual(
    check([kill("e2", 28, 29, "elector")], [...base, ev(10, 30, "member-down", "m2")]).violations,
    [],
  );
});
