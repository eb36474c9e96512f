/**
 * The leader's failure detector with a hand-driven clock: member-joined on first
 * registration, member-down only after member_timeout of silence, member-up when reports
 * resume, member-left on goodbye, a full grace period after a leader change, and never a
 * second proposal for a member while one is in flight.
 */
import test from "ava";
import pino from "pino";
import { type MemberEventProposal, MemberTracker } from "../../../../src/elector/leader/member-tracker.ts";
import type { CheckState } from "../../../../src/contract/check-state.ts";
import type { MemberStatus } from "../../../../src/contract/member-status.ts";

function setup(timeout = 1500) {
  let now = 0;
  const view = new Map<string, MemberStatus>();
  const proposed: MemberEventProposal[] = [];
  let autoCommit = true;
  const held: (() => void)[] = [];
  const checks = new Map<string, Record<string, CheckState>>();
  const commit = (e: MemberEventProposal) => {
    if (e.type === "check-failing" || e.type === "check-passing") {
      const c = checks.get(e.member) ?? {};
      c[e.details.check as string] = e.type === "check-failing" ? "failing" : "passing";
      checks.set(e.member, c);
      return;
    }
    // As the member table does: member-joined sets the checks, member-up when it carries them.
    const carried = e.details.checks;
    if ((e.type === "member-joined" || e.type === "member-up") && typeof carried === "object" && carried) {
      checks.set(e.member, { ...(carried as Record<string, CheckState>) });
    }
    const s: Record<"member-joined" | "member-up" | "member-down" | "member-left", MemberStatus> = {
      "member-joined": "up",
      "member-up": "up",
      "member-down": "down",
      "member-left": "left",
    };
    view.set(e.member, s[e.type]);
  };
  const tracker = new MemberTracker({
    memberTimeoutMs: timeout,
    now: () => now,
    members: () => [...view].map(([name, status]) => ({ name, status })),
    member: (name) =>
      view.has(name) ? { name, status: view.get(name)!, checks: checks.get(name) ?? {} } : undefined,
    propose: (e) => {
      proposed.push(e);
      if (autoCommit) {
        commit(e);
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => held.push(() => (commit(e), resolve())));
    },
    logger: pino({ level: "silent" }),
  });
  return {
    tracker,
    view,
    checks,
    proposed,
    advance: (ms: number) => {
      now += ms;
    },
    hold: () => {
      autoCommit = false;
    },
    release: async () => {
      for (const h of held.splice(0)) h();
      await Promise.resolve();
    },
  };
}

const reg = (name: string) => ({ name, address: `10.0.0.1:${name.length}`, services: ["web"], checks: {} });
const flush = () => new Promise((r) => setImmediate(r));

test("a first registration proposes member-joined with the address and services", async (t) => {
  const s = setup();
  s.tracker.becameLeader(2);
  s.tracker.registered(reg("web1"));
  await flush();
  t.deepEqual(s.proposed, [
    {
      type: "member-joined",
      member: "web1",
      details: { address: "10.0.0.1:4", services: ["web"], checks: {} },
    },
  ]);
});

test("member-down only after member_timeout of silence; member-up when reports resume", async (t) => {
  const s = setup(1500);
  s.tracker.becameLeader(2);
  s.tracker.registered(reg("web1"));
  await flush();
  s.advance(1400);
  s.tracker.tick();
  t.is(s.proposed.length, 1, "still within the timeout");
  s.advance(200);
  s.tracker.tick();
  await flush();
  t.is(s.proposed[1]?.type, "member-down");
  s.tracker.tick();
  t.is(s.proposed.length, 2, "no second member-down");
  s.tracker.heard("web1");
  await flush();
  t.is(s.proposed[2]?.type, "member-up");
});

test("heartbeats within the timeout keep a member up indefinitely", async (t) => {
  const s = setup(1500);
  s.tracker.becameLeader(2);
  s.tracker.registered(reg("web1"));
  for (let i = 0; i < 100; i++) {
    s.advance(250);
    s.tracker.heard("web1");
    s.tracker.tick();
  }
  await flush();
  t.deepEqual(
    s.proposed.map((e) => e.type),
    ["member-joined"],
  );
});

test("after a leader change every member gets a full member_timeout to reconnect", async (t) => {
  const s = setup(1500);
  s.view.set("web1", "up");
  s.view.set("web2", "up");
  s.advance(10_000); // long after the members' last reports to the old leader
  s.tracker.becameLeader(2);
  s.advance(1000);
  s.tracker.tick();
  s.tracker.heard("web1");
  s.advance(1000);
  s.tracker.tick();
  await flush();
  // web1 reconnected in time; web2 did not, and only now (2000 ms > 1500 ms) is judged.
  t.deepEqual(
    s.proposed.map((e) => [e.type, e.member]),
    [["member-down", "web2"]],
  );
});

test("a goodbye proposes member-left, and a left member that registers again joins again", async (t) => {
  const s = setup();
  s.tracker.becameLeader(2);
  s.tracker.registered(reg("web1"));
  await flush();
  s.tracker.left("web1");
  await flush();
  t.is(s.proposed[1]?.type, "member-left");
  s.advance(5000);
  s.tracker.tick();
  t.is(s.proposed.length, 2, "a member that left is never declared down");
  s.tracker.registered(reg("web1"));
  await flush();
  t.is(s.proposed[2]?.type, "member-joined");
});

test("one proposal per member in flight: a slow commit never yields a duplicate event", async (t) => {
  const s = setup(1000);
  s.view.set("web1", "up");
  s.tracker.becameLeader(2);
  s.hold();
  s.advance(1500);
  for (let i = 0; i < 5; i++) s.tracker.tick();
  t.is(s.proposed.length, 1);
  await s.release();
  await flush();
  s.tracker.tick();
  t.is(s.proposed.length, 1, "the committed view now says down");
});

test("a tracker that does not lead proposes nothing", async (t) => {
  const s = setup();
  s.view.set("web1", "up");
  s.tracker.registered(reg("web2"));
  s.advance(99_999);
  s.tracker.tick();
  s.tracker.becameLeader(2);
  s.tracker.lostLeadership();
  s.advance(99_999);
  s.tracker.tick();
  await flush();
  t.deepEqual(s.proposed, []);
});

test("a member that registered before the new leader activated joins on its next heartbeat", async (t) => {
  const s = setup();
  // Leadership moved here and the member was redirected at once, but the leader-elected
  // entry that activates the tracker is applied only afterwards.
  s.tracker.registered(reg("web1"));
  await flush();
  t.deepEqual(s.proposed, []);
  s.tracker.becameLeader(2);
  s.tracker.heard("web1");
  await flush();
  t.deepEqual(
    s.proposed.map((e) => [e.type, e.member]),
    [["member-joined", "web1"]],
  );
  t.is(s.view.get("web1"), "up");
});

test("a check change is proposed once when it differs from the committed state", async (t) => {
  const s = setup();
  s.tracker.becameLeader(2);
  s.tracker.registered({ ...reg("web1"), checks: { nginx: "passing" } });
  await flush();
  s.tracker.checkReported("web1", "nginx", "passing", "ok"); // same as committed: nothing
  s.tracker.checkReported("web1", "nginx", "failing", "connection refused");
  s.tracker.checkReported("web1", "nginx", "failing", "connection refused"); // a repeat
  await flush();
  s.tracker.checkReported("web1", "nginx", "passing", "200");
  s.tracker.checkReported("ghost", "nginx", "failing", "never joined");
  await flush();
  t.deepEqual(
    s.proposed.map((e) => [e.type, e.member, e.details.check ?? null]),
    [
      ["member-joined", "web1", null],
      ["check-failing", "web1", "nginx"],
      ["check-passing", "web1", "nginx"],
    ],
  );
});

test("a registration whose check states differ from the committed ones proposes the difference", async (t) => {
  const s = setup();
  s.tracker.becameLeader(2);
  s.tracker.registered(reg("web1"));
  await flush();
  s.tracker.checkReported("web1", "disk", "failing", "full");
  await flush();
  // The member restarted and reports the check passing on its new stream.
  s.tracker.registered({ ...reg("web1"), checks: { disk: "passing" } });
  await flush();
  t.deepEqual(
    s.proposed.map((e) => e.type),
    ["member-joined", "check-failing", "check-passing"],
  );
});

/** The proposals as `type member check` strings. */
const short = (ps: readonly MemberEventProposal[]) =>
  ps.map((e) => [e.type, e.member, e.details.check].filter((x) => x !== undefined).join(" "));

test("an agent restart while up: a registration with checks pending that are settled in the view re-joins with them", async (t) => {
  const s = setup();
  s.tracker.becameLeader(2);
  s.tracker.registered({ ...reg("web1"), checks: { nginx: "pending", disk: "pending" } });
  await flush();
  t.deepEqual(s.proposed[0]?.details.checks, { nginx: "pending", disk: "pending" });
  s.tracker.checkReported("web1", "nginx", "failing", "connection refused");
  s.tracker.checkReported("web1", "disk", "passing", "ok");
  await flush();
  t.deepEqual(s.checks.get("web1"), { nginx: "failing", disk: "passing" });

  // The agent restarts (the member stays up) and registers before running its checks.
  s.tracker.registered({ ...reg("web1"), checks: { nginx: "pending", disk: "pending" } });
  await flush();
  t.deepEqual(s.proposed[3], {
    type: "member-joined",
    member: "web1",
    details: { address: "10.0.0.1:4", services: ["web"], checks: { nginx: "pending", disk: "pending" } },
  });
  t.deepEqual(s.checks.get("web1"), { nginx: "pending", disk: "pending" });
  // Heartbeats while pending change nothing; each check's first verdict is committed.
  s.tracker.heard("web1");
  s.tracker.checkReported("web1", "nginx", "failing", "connection refused");
  await flush();
  // A reconnect (a new leader, a broken stream) that reports the same states proposes nothing.
  s.tracker.registered({ ...reg("web1"), checks: { nginx: "failing", disk: "pending" } });
  s.tracker.heard("web1");
  await flush();
  t.deepEqual(short(s.proposed), [
    "member-joined web1",
    "check-failing web1 nginx",
    "check-passing web1 disk",
    "member-joined web1",
    "check-failing web1 nginx",
  ]);
  t.deepEqual(s.checks.get("web1"), { nginx: "failing", disk: "pending" });
});

test("a down member that comes back brings the check states it registered with in member-up", async (t) => {
  const s = setup(1500);
  s.tracker.becameLeader(2);
  s.tracker.registered({ ...reg("web1"), checks: { nginx: "pending" } });
  s.tracker.checkReported("web1", "nginx", "passing", "200");
  await flush();
  s.advance(1600);
  s.tracker.tick();
  await flush();
  t.is(s.view.get("web1"), "down");
  t.deepEqual(s.checks.get("web1"), { nginx: "passing" });
  s.tracker.registered({ ...reg("web1"), checks: { nginx: "pending" } });
  await flush();
  t.deepEqual(s.proposed.at(-1), {
    type: "member-up",
    member: "web1",
    details: { checks: { nginx: "pending" } },
  });
  t.deepEqual(s.checks.get("web1"), { nginx: "pending" });
  t.deepEqual(short(s.proposed), [
    "member-joined web1",
    "check-passing web1 nginx",
    "member-down web1",
    "member-up web1",
  ]);
});

test("a report that settles a check while its re-join is in flight is proposed after it, and the view ends with it", async (t) => {
  const s = setup();
  s.tracker.becameLeader(2);
  s.tracker.registered({ ...reg("web1"), checks: { nginx: "passing" } });
  await flush();
  s.hold();
  s.tracker.registered({ ...reg("web1"), checks: { nginx: "pending" } }); // restarted
  s.tracker.checkReported("web1", "nginx", "failing", "refused"); // before the re-join commits
  t.deepEqual(short(s.proposed), ["member-joined web1", "member-joined web1", "check-failing web1 nginx"]);
  t.deepEqual(s.proposed[1]?.details.checks, { nginx: "pending" });
  t.deepEqual(s.proposed[2]?.details, { check: "nginx", detail: "refused" });
  await s.release(); // committed in the order proposed
  await flush();
  t.deepEqual(s.checks.get("web1"), { nginx: "failing" });
  s.tracker.heard("web1");
  await flush();
  t.is(s.proposed.length, 3, "the view agrees with the member: nothing more");
});

test("a check the view does not know yet is committed when it first settles, never while pending", async (t) => {
  const s = setup();
  s.tracker.becameLeader(2);
  s.tracker.registered(reg("web1"));
  await flush();
  // A cluster-wide check starts on the member: pending, then passing.
  s.tracker.checkReported("web1", "port", "pending", "");
  s.tracker.heard("web1");
  await flush();
  t.deepEqual(short(s.proposed), ["member-joined web1"]);
  s.tracker.checkReported("web1", "port", "passing", "127.0.0.1:80 accepts");
  await flush();
  t.deepEqual(short(s.proposed), ["member-joined web1", "check-passing web1 port"]);
  t.deepEqual(s.checks.get("web1"), { port: "passing" });
});
