/**
 * The leader's master keeper with a hand-driven clock, the real MastersState and MembersState
 * fed with committed events, and a `propose` that commits (or holds) what it is given: who may
 * be master, when a replacement is safe (lease fence, leader change, confirmation by the old
 * master), switchover, epochs that only grow, one proposal per service in flight.
 */
import test from "ava";
import pino from "pino";
import type { JsonObject } from "../../../../src/contract/canonical-json.ts";
import type { Event, EventType } from "../../../../src/contract/events.ts";
import { leaseMarginMs, oldLeaderGoneAfterMs } from "../../../../src/contract/master-lease.ts";
import {
  type MasterEventProposal,
  MasterKeeper,
  SwitchoverError,
} from "../../../../src/elector/leader/master-keeper.ts";
import { MastersState } from "../../../../src/coordinator/masters-state.ts";
import { MembersState } from "../../../../src/coordinator/members-state.ts";

const LEASE = 3000;
const ELECTION = 1000;
const MEMBER_TIMEOUT = 1500;
const MARGIN = leaseMarginMs(LEASE);
/** After activation, how long before a service that has a record may be promoted. */
const AFTER_TAKEOVER = oldLeaderGoneAfterMs(ELECTION) + LEASE + MARGIN;

function setup() {
  let now = 100_000;
  let id = 0;
  const masters = new MastersState();
  const members = new MembersState();
  const seen = new Map<string, number>();
  const proposed: MasterEventProposal[] = [];
  const held: { e: MasterEventProposal; resolve: () => void; reject: (e: Error) => void }[] = [];
  let hold = false;

  const apply = (
    type: EventType,
    member: string | null,
    service: string | null,
    details: JsonObject = {},
  ) => {
    const e: Event = {
      id: ++id,
      term: 1,
      time: new Date(0).toISOString(),
      type,
      member,
      service,
      details,
      hash: "",
    };
    members.apply(e);
    masters.apply(e);
  };
  const commit = (e: MasterEventProposal) => apply(e.type, e.member, e.service, e.details);

  const keeper = new MasterKeeper({
    leaseMs: LEASE,
    electionTimeoutMs: ELECTION,
    memberTimeoutMs: MEMBER_TIMEOUT,
    now: () => now,
    masters,
    members,
    lastSeen: (m) => seen.get(m),
    propose: (e) => {
      proposed.push(e);
      if (!hold) {
        commit(e);
        return Promise.resolve();
      }
      return new Promise<void>((resolve, reject) => held.push({ e, resolve, reject }));
    },
    logger: pino({ level: "silent" }),
  });

  const s = {
    keeper,
    masters,
    members,
    proposed,
    apply,
    now: () => now,
    /** Advance the clock; the members in `heard` (default: every member not down) report now. */
    advance(ms: number, heard?: string[]) {
      now += ms;
      for (const m of heard ??
        members
          .list()
          .filter((m) => m.status !== "down")
          .map((m) => m.name)) {
        seen.set(m, now);
      }
    },
    heard(...names: string[]) {
      for (const n of names) seen.set(n, now);
    },
    forget(name: string) {
      seen.delete(name);
    },
    join(name: string, services: string[] = ["db"], checks: Record<string, string> = {}) {
      apply("member-joined", name, null, { address: `10.0.0.${name.length}:7400`, services, checks });
      seen.set(name, now);
    },
    hold() {
      hold = true;
    },
    /** Commit every held proposal. */
    async release() {
      hold = false;
      for (const h of held.splice(0)) {
        commit(h.e);
        h.resolve();
      }
      await flush();
    },
    async reject() {
      for (const h of held.splice(0)) h.reject(new Error("not the leader any more"));
      await flush();
    },
    /** One tick, then let the proposal promises settle. */
    async tick() {
      keeper.tick();
      await flush();
    },
    /** The proposals since the last call, as short strings. */
    take(): string[] {
      return proposed.splice(0).map((p) => {
        const d = Object.entries(p.details)
          .map(([k, v]) => `${k}=${String(v)}`)
          .join(" ");
        return `${p.type} ${p.service} ${p.member} ${d}`;
      });
    },
  };
  return s;
}

const flush = () => new Promise((r) => setImmediate(r));

/** A cluster whose leader has been active long enough that no earlier term fences anything. */
async function settled(names = ["web1", "web2"]) {
  const s = setup();
  for (const n of names) s.join(n);
  s.keeper.becameLeader(2);
  s.advance(AFTER_TAKEOVER + 1);
  await s.tick();
  return s;
}

test("an inactive keeper proposes nothing, grants nothing and refuses switchovers", async (t) => {
  const s = setup();
  s.join("web1");
  s.apply("master-promoted", "web1", "db", { epoch: 1 });
  t.false(s.keeper.isActive);
  await s.tick();
  s.advance(60_000);
  await s.tick();
  t.deepEqual(s.take(), []);
  t.deepEqual(s.keeper.grantsFor("web1"), []);
  s.keeper.report("web1", [{ service: "db", state: "standby", epoch: 1 }]);
  t.is(s.keeper.reported("web1", "db"), undefined);
  t.throws(() => s.keeper.requestSwitchover("db", "web1"), {
    instanceOf: SwitchoverError,
    message: /not the leader/,
  });
  // After losing leadership it is inactive again.
  s.keeper.becameLeader(2);
  s.keeper.lostLeadership();
  await s.tick();
  t.deepEqual(s.take(), []);
});

test("with no master record at all, the first candidate by name is promoted at epoch 1, once", async (t) => {
  // No master-promoted was ever committed, so no earlier leader can have granted the service
  // (grants come only from committed masters): no need to wait for an old leader.
  const s = setup();
  s.join("web2");
  s.join("web1");
  s.keeper.becameLeader(2);
  await s.tick();
  t.deepEqual(s.take(), ["master-promoted db web1 epoch=1"]);
  t.is(s.masters.get("db")?.master, "web1");
  for (let i = 0; i < 3; i++) {
    s.advance(500);
    await s.tick();
  }
  t.deepEqual(s.take(), []);
});

test("after a leader change, a service with no current master is promoted only 2 × election timeout + lease + margin after activation", async (t) => {
  const s = setup();
  s.join("web2");
  s.join("web1");
  // An earlier term: web1 was master at epoch 3, then demoted (the old leader may have granted
  // it until then, and may still be acknowledging members until it steps down).
  s.apply("master-promoted", "web1", "db", { epoch: 3 });
  s.apply("master-demoted", "web1", "db", { epoch: 3, reason: "the master is down" });
  s.keeper.becameLeader(2);
  await s.tick();
  t.deepEqual(s.take(), []);
  s.advance(AFTER_TAKEOVER - 1);
  await s.tick();
  t.deepEqual(s.take(), [], "one millisecond early");
  s.advance(1);
  await s.tick();
  t.deepEqual(s.take(), ["master-promoted db web1 epoch=4 previous=web1"]);
});

test("after a leader change, the old master reporting standby at the demoted epoch allows the promotion at once", async (t) => {
  const s = setup();
  s.join("web1");
  s.join("web2");
  s.apply("master-promoted", "web1", "db", { epoch: 3 });
  s.apply("master-demoted", "web1", "db", { epoch: 3, reason: "switchover" });
  s.keeper.becameLeader(2);
  s.keeper.report("web1", [{ service: "db", state: "standby", epoch: 2 }]); // older: not enough
  await s.tick();
  t.deepEqual(s.take(), []);
  s.keeper.report("web1", [{ service: "db", state: "standby", epoch: 3 }]);
  await s.tick();
  t.deepEqual(s.take(), ["master-promoted db web1 epoch=4 previous=web1"]);
});

test("after a leader change, a committed master that is down is demoted at once, its replacement fenced by the takeover", async (t) => {
  const s = setup();
  s.join("web1");
  s.join("web2");
  s.apply("master-promoted", "web1", "db", { epoch: 5 });
  s.apply("member-down", "web1", null, { silent_ms: 1600 });
  s.keeper.becameLeader(2);
  await s.tick();
  t.deepEqual(s.take(), ["master-demoted db web1 epoch=5 reason=the master is down"]);
  s.advance(AFTER_TAKEOVER - 1);
  await s.tick();
  t.deepEqual(s.take(), []);
  s.advance(1);
  await s.tick();
  t.deepEqual(s.take(), ["master-promoted db web2 epoch=6 previous=web1"]);
});

test("a master that goes down is demoted; the replacement waits for lastGrant + lease + margin", async (t) => {
  const s = await settled();
  t.deepEqual(s.take(), ["master-promoted db web1 epoch=1"]);
  s.advance(100);
  const grantedAt = s.now();
  t.deepEqual(s.keeper.grantsFor("web1"), [{ service: "db", epoch: 1 }]);
  t.deepEqual(s.keeper.grantsFor("web2"), []);
  s.apply("member-down", "web1", null, { silent_ms: 1600 });
  await s.tick();
  t.deepEqual(s.take(), ["master-demoted db web1 epoch=1 reason=the master is down"]);
  t.is(s.masters.get("db")?.master, null);
  // Grants are only of committed masters: web1 is no longer granted anything.
  t.deepEqual(s.keeper.grantsFor("web1"), []);
  s.advance(grantedAt + LEASE + MARGIN - 1 - s.now());
  await s.tick();
  t.deepEqual(s.take(), [], "one millisecond before the lease (plus margin) ran out");
  s.advance(1);
  await s.tick();
  t.deepEqual(s.take(), ["master-promoted db web2 epoch=2 previous=web1"]);
});

test("a later grant moves the fence later", async (t) => {
  const s = await settled();
  s.take();
  s.keeper.grantsFor("web1");
  s.advance(1000);
  const last = s.now();
  s.keeper.grantsFor("web1");
  s.apply("member-down", "web1", null, {});
  await s.tick();
  t.is(s.take().length, 1);
  s.advance(last + LEASE + MARGIN - 1 - s.now());
  await s.tick();
  t.deepEqual(s.take(), []);
  s.advance(1);
  await s.tick();
  t.deepEqual(s.take(), ["master-promoted db web2 epoch=2 previous=web1"]);
});

test("the demoted master reporting standby at the demoted epoch allows the replacement at once; an older epoch does not", async (t) => {
  const s = await settled();
  s.take();
  s.keeper.grantsFor("web1");
  s.apply("check-failing", "web1", null, { check: "service:db" });
  await s.tick();
  t.deepEqual(s.take(), ["master-demoted db web1 epoch=1 reason=the service's status check is failing"]);
  s.keeper.report("web1", [{ service: "db", state: "standby", epoch: 0 }]);
  await s.tick();
  t.deepEqual(s.take(), [], "a report from before the promotion is no confirmation");
  s.keeper.report("web1", [{ service: "db", state: "master", epoch: 1 }]);
  await s.tick();
  t.deepEqual(s.take(), [], "still master");
  s.keeper.report("web1", [{ service: "db", state: "standby", epoch: 1 }]);
  await s.tick();
  t.deepEqual(s.take(), ["master-promoted db web2 epoch=2 previous=web1"]);
});

test("a failed report at the demoted epoch also confirms the old master is down", async (t) => {
  const s = await settled();
  s.take();
  s.keeper.grantsFor("web1");
  s.keeper.report("web1", [{ service: "db", state: "failed", epoch: 1 }]);
  await s.tick();
  t.deepEqual(s.take(), ["master-demoted db web1 epoch=1 reason=the master stepped down"]);
  await s.tick();
  t.deepEqual(s.take(), ["master-promoted db web2 epoch=2 previous=web1"]);
});

test("a master reporting standby at its epoch has stepped down and is demoted", async (t) => {
  const s = await settled();
  s.take();
  s.keeper.report("web1", [{ service: "db", state: "standby", epoch: 0 }]);
  await s.tick();
  t.deepEqual(s.take(), [], "an old report says nothing about epoch 1");
  s.keeper.report("web1", [{ service: "db", state: "standby", epoch: 1 }]);
  await s.tick();
  t.deepEqual(s.take(), ["master-demoted db web1 epoch=1 reason=the master stepped down"]);
});

test("candidates exclude drained, down, silent, check-failing, failed and non-running members", async (t) => {
  const s = setup();
  for (const n of [
    "a-drained",
    "b-down",
    "c-silent",
    "d-check",
    "e-failed",
    "f-other",
    "g-good",
    "h-never",
  ]) {
    s.join(n, n === "f-other" ? ["web"] : ["db"]);
  }
  s.apply("member-drained", "a-drained", null, {});
  s.apply("member-down", "b-down", null, {});
  s.apply("check-failing", "d-check", null, { check: "service:db" });
  s.apply("check-failing", "g-good", null, { check: "disk" }); // another check: no matter
  s.keeper.becameLeader(2);
  s.keeper.report("e-failed", [{ service: "db", state: "failed", epoch: 0 }]);
  s.forget("h-never");
  s.advance(MEMBER_TIMEOUT, ["a-drained", "b-down", "d-check", "e-failed", "f-other", "g-good"]);
  s.advance(MEMBER_TIMEOUT, ["a-drained", "b-down", "d-check", "e-failed", "f-other", "g-good"]);
  t.deepEqual(s.keeper.candidates("db"), ["g-good"]);
  t.deepEqual(s.keeper.candidates("web"), ["f-other"]);
  // Heard exactly member_timeout ago still counts; one millisecond more does not.
  s.heard("c-silent");
  s.advance(MEMBER_TIMEOUT, []);
  t.deepEqual(s.keeper.candidates("db"), ["c-silent", "g-good"]);
  s.advance(1, []);
  t.deepEqual(s.keeper.candidates("db"), []);
  // Undrained, and a passing check again: candidates again.
  s.advance(0, ["a-drained", "c-silent", "d-check", "g-good"]);
  s.apply("member-undrained", "a-drained", null, {});
  s.apply("check-passing", "d-check", null, { check: "service:db" });
  t.deepEqual(s.keeper.candidates("db"), ["a-drained", "c-silent", "d-check", "g-good"]);
});

test("each reason a master stops being a candidate demotes it, naming the reason", async (t) => {
  const cases: [string, (s: Awaited<ReturnType<typeof settled>>) => void, string][] = [
    ["drained", (s) => s.apply("member-drained", "web1", null, {}), "the master is drained"],
    ["left", (s) => s.apply("member-left", "web1", null, {}), "the master is left"],
    [
      "no longer runs it",
      (s) =>
        s.apply("member-joined", "web1", null, { address: "10.0.0.4:7400", services: ["web"], checks: {} }),
      "the master no longer runs the service",
    ],
    [
      "failed",
      (s) => s.keeper.report("web1", [{ service: "db", state: "failed", epoch: 0 }]),
      "the service failed to promote",
    ],
    ["silent", (s) => s.advance(MEMBER_TIMEOUT + 1, ["web2"]), "the master is not reporting"],
    [
      "re-joined with its status pending (its agent restarted)",
      (s) =>
        s.apply("member-joined", "web1", null, {
          address: "10.0.0.4:7400",
          services: ["db"],
          checks: { "service:db": "pending" },
        }),
      "the service's status check is pending",
    ],
  ];
  for (const [what, make, reason] of cases) {
    const s = await settled();
    t.deepEqual(s.take(), ["master-promoted db web1 epoch=1"], what);
    make(s);
    await s.tick();
    t.deepEqual(
      s.take().filter((p) => p.includes(" db ")),
      [`master-demoted db web1 epoch=1 reason=${reason}`],
      what,
    );
  }
});

test("requestSwitchover refuses an unknown member, one not running the service, and a non-candidate, naming why", async (t) => {
  const s = await settled(["web1", "web2", "web3"]);
  s.join("cache1", ["cache"]);
  s.apply("member-down", "web3", null, {});
  const err = (member: string) =>
    t.throws(() => s.keeper.requestSwitchover("db", member), { instanceOf: SwitchoverError })!.message;
  t.regex(err("nosuch"), /no member named nosuch/);
  t.regex(err("cache1"), /cache1 does not run db/);
  t.regex(err("web3"), /web3 cannot be master of db now: .*down/);
  s.keeper.report("web2", [{ service: "db", state: "failed", epoch: 0 }]);
  t.regex(err("web2"), /web2 cannot be master of db now: .*failed/);
  // Nothing was asked for: the master stays.
  s.take();
  await s.tick();
  t.deepEqual(
    s.take().filter((p) => p.includes(" db ")),
    [],
  );
});

test("a switchover demotes the current master and promotes the requested member, which then stays", async (t) => {
  const s = await settled(["web1", "web2", "web3"]);
  t.deepEqual(s.take(), ["master-promoted db web1 epoch=1"]);
  s.keeper.grantsFor("web1");
  s.keeper.requestSwitchover("db", "web3");
  await s.tick();
  t.deepEqual(s.take(), ["master-demoted db web1 epoch=1 reason=switchover"]);
  // Not before the old master is down: here it confirms.
  await s.tick();
  t.deepEqual(s.take(), []);
  s.keeper.report("web1", [{ service: "db", state: "standby", epoch: 1 }]);
  await s.tick();
  t.deepEqual(s.take(), ["master-promoted db web3 epoch=2 previous=web1"]);
  // The switchover is done: web3 stays master although web1 comes first by name.
  s.advance(500);
  await s.tick();
  t.deepEqual(s.take(), []);
  t.is(s.masters.get("db")?.master, "web3");
});

test("a switchover to the current master does nothing", async (t) => {
  const s = await settled();
  s.take();
  s.keeper.requestSwitchover("db", "web1");
  await s.tick();
  t.deepEqual(s.take(), []);
});

test("epochs only grow across promotions and demotions, per service", async (t) => {
  const s = await settled(["web1", "web2"]);
  const epochs: number[] = [];
  const record = () => {
    for (const p of s.proposed) if (p.type === "master-promoted") epochs.push(p.details.epoch as number);
  };
  for (let round = 0; round < 4; round++) {
    record();
    const rec = s.masters.get("db")!;
    s.take();
    // The master steps down; the other takes over at once on confirmation.
    s.keeper.report(rec.master!, [{ service: "db", state: "standby", epoch: rec.epoch }]);
    await s.tick(); // demote
    await s.tick(); // promote
  }
  record();
  t.deepEqual(epochs, [1, 2, 3, 4, 5]);
  // A stale promotion is ignored by the committed state.
  s.apply("master-promoted", "web1", "db", { epoch: 2 });
  t.is(s.masters.get("db")!.epoch, 5);
});

test("only one proposal per service is in flight; other services go on; a failed proposal is retried", async (t) => {
  const s = setup();
  s.join("web1", ["db", "cache"]);
  s.join("web2", ["db", "cache"]);
  s.keeper.becameLeader(2);
  s.hold();
  await s.tick();
  await s.tick();
  t.deepEqual(s.take(), ["master-promoted cache web1 epoch=1", "master-promoted db web1 epoch=1"]);
  for (let i = 0; i < 5; i++) {
    s.advance(100);
    await s.tick();
  }
  t.deepEqual(s.take(), [], "nothing more while both are in flight");
  await s.reject();
  await s.tick();
  t.deepEqual(
    s.take(),
    ["master-promoted cache web1 epoch=1", "master-promoted db web1 epoch=1"],
    "retried after the rejection",
  );
  await s.release();
  t.is(s.masters.get("db")?.master, "web1");
  t.is(s.masters.get("cache")?.master, "web1");
  await s.tick();
  t.deepEqual(s.take(), []);
});

test("a member whose service status check is pending is never promoted; once it passes, it may be", async (t) => {
  const s = setup();
  // Both agents just started: their status checks have not passed `rise` times yet.
  s.join("web1", ["db"], { "service:db": "pending" });
  s.join("web2", ["db"], { "service:db": "pending", disk: "passing" });
  s.join("web3", ["web"], {}); // a service without a status script needs none
  s.keeper.becameLeader(2);
  s.advance(AFTER_TAKEOVER + 1);
  await s.tick();
  t.deepEqual(s.keeper.candidates("db"), []);
  t.deepEqual(s.keeper.candidates("web"), ["web3"]);
  t.deepEqual(s.take(), ["master-promoted web web3 epoch=1"]);
  t.throws(() => s.keeper.requestSwitchover("db", "web1"), {
    instanceOf: SwitchoverError,
    message: "web1 cannot be master of db now: the service's status check is pending",
  });
  s.advance(1000);
  await s.tick();
  t.deepEqual(s.take(), [], "still pending: still no master");
  s.apply("check-passing", "web2", null, { check: "service:db" });
  await s.tick();
  t.deepEqual(s.take(), ["master-promoted db web2 epoch=1"]);
});

test("a master that re-registers with its status pending is granted nothing for it, and is demoted", async (t) => {
  const s = await settled();
  t.deepEqual(s.take(), ["master-promoted db web1 epoch=1"]);
  t.deepEqual(s.keeper.grantsFor("web1"), [{ service: "db", epoch: 1 }]);
  // web1's agent restarts: its registration says the status check is pending, before the
  // re-join that makes the view say so is committed.
  s.keeper.checksReported("web1", { "service:db": "pending" });
  t.deepEqual(s.keeper.grantsFor("web1"), [], "no grant: it must not run promote unchecked");
  t.deepEqual(s.keeper.candidates("db"), ["web2"]);
  await s.tick();
  t.deepEqual(s.take(), ["master-demoted db web1 epoch=1 reason=the service's status check is pending"]);
  // Its status check passes: it is a candidate again (and is granted what it is master of).
  s.keeper.checkReported("web1", "service:db", "passing");
  t.deepEqual(s.keeper.candidates("db"), ["web1", "web2"]);
});
