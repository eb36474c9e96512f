/**
 * The campaign's exactly-once checker (test/campaign/check-exactly-once.ts) on hand-made runs
 * and logs: a clean history and the allowed repeat pass; a lost run, a second effect after a
 * committed success, overlapping runs, a run without its handler-started and an attempt 2
 * without a leader change are each found.
 */
import test from "ava";
import type { CampaignEvent } from "../../campaign/campaign-event.ts";
import { checkExactlyOnce } from "../../campaign/check-exactly-once.ts";
import { parseRuns, type RecordedRun } from "../../campaign/recorder.ts";

const ev = (
  id: number,
  term: number,
  type: string,
  details: Record<string, unknown> = {},
  member = "m1",
): CampaignEvent => ({
  id,
  term,
  time: "2026-12-08T00:00:00.000Z",
  type,
  member: type === "leader-elected" ? null : member,
  service: null,
  details,
  hash: `h${id}`,
});
const started = (
  id: number,
  term: number,
  event: number,
  attempt: number,
  extra: Record<string, unknown> = {},
) => ev(id, term, "handler-started", { event, handler: "rec", attempt, leader: "e1", ...extra });
const succeeded = (id: number, term: number, event: number, attempt: number) =>
  ev(id, term, "handler-succeeded", { event, handler: "rec", attempt });

/** Lines of the runs log: [phase, time, event, attempt, fence, pid]. */
function runs(...lines: [string, number, number, number, string, number][]): RecordedRun[] {
  return parseRuns(
    lines
      .map(
        ([phase, t, event, attempt, fence, pid]) =>
          `${phase} ${t} rec ${event} ${attempt} ${fence} m1 member-down ${pid}`,
      )
      .join("\n"),
  );
}
/** A whole run: start, effect (or refusal), end. */
function whole(t: number, event: number, attempt: number, fence: string, pid: number, refused = false) {
  return [
    ["start", t, event, attempt, fence, pid],
    ["tick", t + 10, event, attempt, fence, pid],
    [refused ? "refused" : "effect", t + 20, event, attempt, fence, pid],
    ["end", t + 30, event, attempt, fence, pid],
  ] as [string, number, number, number, string, number][];
}
const check = (events: CampaignEvent[], r: RecordedRun[]) =>
  checkExactlyOnce({ handler: "rec", on: ["member-down"], runs: r, events });

test("one run per event, each with its handler-started: no violation", (t) => {
  const events = [
    ev(1, 1, "leader-elected"),
    ev(5, 1, "member-down"),
    started(6, 1, 5, 1),
    succeeded(7, 1, 5, 1),
  ];
  const v = check(events, runs(...whole(100, 5, 1, "1:6", 11)));
  t.deepEqual(v.violations, []);
  t.is(v.count, 1);
});

test("attempt 2 after a leader change, attempt 1 killed before its effect: no violation", (t) => {
  const events = [
    ev(5, 1, "member-down"),
    started(6, 1, 5, 1),
    ev(8, 2, "leader-elected"),
    started(9, 2, 5, 2, { previous: "unknown: the leader running it was lost" }),
    succeeded(10, 2, 5, 2),
  ];
  const r = runs(
    ["start", 100, 5, 1, "1:6", 11],
    ["tick", 110, 5, 1, "1:6", 11],
    ...whole(2000, 5, 2, "2:9", 12),
  );
  t.deepEqual(check(events, r).violations, []);
});

test("the allowed repeat: attempt 1 took effect but its success was never recorded", (t) => {
  const events = [
    ev(5, 1, "member-down"),
    started(6, 1, 5, 1),
    ev(8, 2, "leader-elected"),
    started(9, 2, 5, 2, { previous: "unknown: the leader running it was lost" }),
    succeeded(10, 2, 5, 2),
  ];
  const v = check(events, runs(...whole(100, 5, 1, "1:6", 11), ...whole(2000, 5, 2, "2:9", 12)));
  t.deepEqual(v.violations, []);
  t.is(v.notes?.length, 1);
});

test("no run took effect: a lost run", (t) => {
  const events = [ev(5, 1, "member-down"), started(6, 1, 5, 1), succeeded(7, 1, 5, 1)];
  const v = check(events, runs(...whole(100, 5, 1, "1:6", 11, true)));
  t.is(v.violations.length, 1);
  t.regex(v.violations[0]!.what, /no run of rec took effect/);
});

test("a second effect after a committed success is a violation", (t) => {
  const events = [
    ev(5, 1, "member-down"),
    started(6, 1, 5, 1),
    succeeded(7, 1, 5, 1),
    ev(8, 2, "leader-elected"),
    started(9, 2, 5, 2),
  ];
  const v = check(events, runs(...whole(100, 5, 1, "1:6", 11), ...whole(2000, 5, 2, "2:9", 12)));
  t.true(v.violations.some((x) => /took effect twice/.test(x.what)));
});

test("overlapping runs of one pair are a violation (a leader without its lease)", (t) => {
  const events = [
    ev(5, 1, "member-down"),
    started(6, 1, 5, 1),
    ev(8, 2, "leader-elected"),
    started(9, 2, 5, 2, { previous: "unknown: the leader running it was lost" }),
    succeeded(10, 2, 5, 2),
  ];
  // Attempt 1 kept running (ticking) while attempt 2 ran, and its late effect was refused.
  const r = runs(
    ["start", 100, 5, 1, "1:6", 11],
    ["tick", 2500, 5, 1, "1:6", 11],
    ["refused", 2600, 5, 1, "1:6", 11],
    ...whole(2000, 5, 2, "2:9", 12),
  );
  const v = check(events, r);
  t.true(v.violations.some((x) => /overlap/.test(x.what)));
});

test("a run with no committed handler-started at its fence is a violation", (t) => {
  const events = [ev(5, 1, "member-down"), started(6, 1, 5, 1), succeeded(7, 1, 5, 1)];
  const v = check(events, runs(...whole(100, 5, 1, "1:7", 11)));
  t.true(v.violations.some((x) => /no committed handler-started/.test(x.what)));
});

test("attempt 2 without a leader change or a recorded failure is a violation", (t) => {
  const events = [ev(5, 1, "member-down"), started(6, 1, 5, 1), started(9, 1, 5, 2), succeeded(10, 1, 5, 2)];
  const r = runs(["start", 100, 5, 1, "1:6", 11], ...whole(2000, 5, 2, "1:9", 12));
  const v = check(events, r);
  t.true(v.violations.some((x) => /without a leader change/.test(x.what)));
  // The same with `previous` holding a failed outcome is an ordinary retry.
  const retry = [
    ev(5, 1, "member-down"),
    started(6, 1, 5, 1),
    started(9, 1, 5, 2, { previous: { exit_code: 1 } }),
    succeeded(10, 1, 5, 2),
  ];
  t.deepEqual(check(retry, r).violations, []);
});
