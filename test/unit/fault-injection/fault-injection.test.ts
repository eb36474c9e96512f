/**
 * The fault-injection switch (src/fault-injection/, docs/fault-injection.md): parsing
 * `CONCLAVE_INJECT_BUG` (unset: none; a known name; an unknown one refused with the list, and
 * the agent exits 2 before it starts anything), which seam each bug replaces, and, for each
 * seam, that the alternative really is the bug, on the unit-test fixtures of that part: a
 * handler run not under the lease watchdog, checks that are passing before their first run, a
 * master promoted while the old one's lease runs, a follower read with no read barrier.
 */
import test from "ava";
import pino from "pino";
import { runAgent } from "../../../src/agent.ts";
import { LeaderForwarder } from "../../../src/control/control-node.ts";
import { ControlQueries } from "../../../src/control/control-queries.ts";
import type { ControlApi } from "../../../src/control/control-types.ts";
import type { JsonObject } from "../../../src/contract/canonical-json.ts";
import type { Event, EventType } from "../../../src/contract/events.ts";
import { MastersState } from "../../../src/coordinator/masters-state.ts";
import { MembersState } from "../../../src/coordinator/members-state.ts";
import { type MasterEventProposal, MasterKeeper } from "../../../src/elector/leader/master-keeper.ts";
import {
  electorFaults,
  promoteAtOnce,
  readsWithoutReadIndex,
  unguardedRun,
} from "../../../src/fault-injection/elector-faults.ts";
import {
  faultInjectionWarning,
  INJECT_BUG_ENV,
  INJECTABLE_BUG_NAMES,
  injectedBugFromEnv,
  UnknownInjectedBugError,
} from "../../../src/fault-injection/injected-bug.ts";
import { memberFaults } from "../../../src/fault-injection/member-faults.ts";
import { MemberChecks } from "../../../src/member/checks/member-checks.ts";
import { watchdogScriptPath } from "../../../src/process/lease-watchdog.ts";
import { FakeNode } from "../elector/fakes.ts";
import { setup as runnerSetup } from "../elector/leader/runner-fixture.ts";

test("the switch: unset or empty is no bug, a known name is that bug, the list is fixed", (t) => {
  t.is(injectedBugFromEnv({}), null);
  t.is(injectedBugFromEnv({ [INJECT_BUG_ENV]: "" }), null);
  t.is(injectedBugFromEnv({ [INJECT_BUG_ENV]: " checks-start-passing " }), "checks-start-passing");
  t.deepEqual(INJECTABLE_BUG_NAMES, [
    "handler-no-lease",
    "checks-start-passing",
    "master-no-lease-wait",
    "follower-read-no-readindex",
  ]);
  t.regex(
    faultInjectionWarning("handler-no-lease"),
    /^FAULT INJECTION ON: handler-no-lease — never in production/,
  );
});

test("the switch: an unknown name is refused with the variable, the name and every known bug", (t) => {
  const e = t.throws(() => injectedBugFromEnv({ [INJECT_BUG_ENV]: "handler-no-leases" }), {
    instanceOf: UnknownInjectedBugError,
  });
  t.is(
    e?.message,
    'CONCLAVE_INJECT_BUG="handler-no-leases": not a known bug; known: handler-no-lease, checks-start-passing, master-no-lease-wait, follower-read-no-readindex (unset it to run without fault injection)',
  );
  // Not a prototype key either.
  t.throws(() => injectedBugFromEnv({ [INJECT_BUG_ENV]: "toString" }), {
    instanceOf: UnknownInjectedBugError,
  });
});

test.serial(
  "conclave agent with an unknown bug name exits 2 with the list, before reading its config",
  async (t) => {
    const saved = process.env[INJECT_BUG_ENV];
    const write = process.stderr.write.bind(process.stderr);
    let err = "";
    process.env[INJECT_BUG_ENV] = "no-such-bug";
    process.stderr.write = ((chunk: string | Uint8Array) => {
      err += String(chunk);
      return true;
    }) as typeof process.stderr.write;
    try {
      t.is(await runAgent("/nonexistent/conclave.yaml"), 2);
    } finally {
      process.stderr.write = write;
      if (saved === undefined) delete process.env[INJECT_BUG_ENV];
      else process.env[INJECT_BUG_ENV] = saved;
    }
    t.regex(err, /CONCLAVE_INJECT_BUG="no-such-bug": not a known bug; known: handler-no-lease, /);
    t.notRegex(err, /conclave\.yaml/);
  },
);

test("each bug replaces exactly one seam of one role; no bug replaces none", (t) => {
  const seams = (bug: Parameters<typeof electorFaults>[0]) => [
    ...Object.keys(electorFaults(bug)),
    ...Object.keys(memberFaults(bug)).map((k) => `member.${k}`),
  ];
  t.deepEqual(seams(null), []);
  t.deepEqual(seams("handler-no-lease"), ["runGuard"]);
  t.deepEqual(seams("checks-start-passing"), ["member.checkStartState"]);
  t.deepEqual(seams("master-no-lease-wait"), ["promotionSafeAt"]);
  t.deepEqual(seams("follower-read-no-readindex"), ["controlNode"]);
});

test("handler-no-lease: the run is the handler itself, with no lease watchdog and no deadline", async (t) => {
  for (const [guard, watched] of [
    [undefined, true],
    [electorFaults("handler-no-lease").runGuard, false],
  ] as const) {
    const s = runnerSetup(guard ? { runGuard: guard } : {});
    s.join("m1", "10.1.0.1:7001");
    s.runner.becameLeader(2);
    s.down("m1");
    const p = await s.spawner.process(1);
    if (watched) {
      t.is(p.request.file, "bash");
      t.is(p.request.args[0], watchdogScriptPath());
      t.is(p.request.args[1], "--run");
    } else {
      // Nothing in the run's group kills it when the leader stops renewing (paused, cut off)
      // or dies: only this leader's own kill on leadership loss would.
      t.is(p.request.file, "/bin/sh");
      t.deepEqual(p.request.args, ["-c", "notify-oncall"]);
      t.false(p.request.args.includes(watchdogScriptPath()));
    }
    p.end(0);
    await s.node.event((e) => e.type === "handler-succeeded");
  }
  const run = { kind: "shell", command: "x" } as const;
  t.is(unguardedRun(run, 123), run, "the deadline is dropped: the run is returned as it is");
});

test("checks-start-passing: a new agent's checks are passing before they have run once (pending without the bug)", async (t) => {
  const make = (startState?: "passing") =>
    new MemberChecks({
      local: [
        {
          name: "app",
          type: "file_exists",
          path: "/nonexistent/app-is-down",
          intervalMs: 3_600_000,
          timeoutMs: 1000,
          fall: 1,
          rise: 1,
          action: null,
        },
      ],
      logger: pino({ level: "silent" }),
      onChange: () => {},
      ...(startState ? { startState } : {}),
    });
  t.deepEqual(make().states(), { app: "pending" });
  const bugged = make(memberFaults("checks-start-passing").checkStartState as "passing");
  // Not started: no probe has run, yet it claims passing (what the agent registers with).
  t.deepEqual(bugged.states(), { app: "passing" });
  // The cluster-wide ones start passing too.
  bugged.setCluster(1, JSON.stringify([{ name: "disk", type: "file_exists", path: "/nonexistent" }]));
  t.deepEqual(bugged.states(), { app: "passing", disk: "passing" });
});

/** A keeper over real MastersState and MembersState, on a clock the test moves. */
function keeperSetup(promotionSafeAt?: typeof promoteAtOnce) {
  let now = 100_000;
  let id = 0;
  const masters = new MastersState();
  const members = new MembersState();
  const proposed: string[] = [];
  const apply = (type: EventType, member: string, service: string | null, details: JsonObject) => {
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
  const keeper = new MasterKeeper({
    leaseMs: 3000,
    electionTimeoutMs: 1000,
    memberTimeoutMs: 1500,
    now: () => now,
    masters,
    members,
    lastSeen: () => now,
    propose: (e: MasterEventProposal) => {
      proposed.push(`${e.type} ${e.member} ${String(e.details.epoch)}`);
      apply(e.type, e.member, e.service, e.details);
      return Promise.resolve();
    },
    ...(promotionSafeAt ? { promotionSafeAt } : {}),
    logger: pino({ level: "silent" }),
  });
  for (const m of ["web1", "web2"])
    apply("member-joined", m, null, { address: `10.0.0.${m.length}:7400`, services: ["db"], checks: {} });
  const tick = async () => {
    keeper.tick();
    await new Promise((r) => setImmediate(r));
  };
  return { keeper, apply, proposed, tick, advance: (ms: number) => (now += ms) };
}

test("master-no-lease-wait: the replacement is promoted at once, while the old master's lease still runs", async (t) => {
  for (const [wait, promotedAt] of [
    [undefined, "after the lease"],
    [electorFaults("master-no-lease-wait").promotionSafeAt, "at once"],
  ] as const) {
    const s = keeperSetup(wait);
    s.keeper.becameLeader(2);
    await s.tick();
    t.deepEqual(s.proposed.splice(0), ["master-promoted web1 1"]);
    s.advance(60_000); // long past any earlier leader's grants
    s.keeper.grantsFor("web1"); // web1's lease now runs for 3 s from here
    s.apply("member-down", "web1", null, { silent_ms: 1500 });
    await s.tick();
    await s.tick();
    const now = s.proposed.splice(0);
    if (promotedAt === "at once") {
      t.deepEqual(now, ["master-demoted web1 1", "master-promoted web2 2"]);
    } else {
      t.deepEqual(now, ["master-demoted web1 1"]);
      s.advance(3000 + 150 + 1);
      await s.tick();
      t.deepEqual(s.proposed.splice(0), ["master-promoted web2 2"]);
    }
  }
  t.is(promoteAtOnce({ confirmedDown: false, lastGrantAt: 5, previousLeaderGoneAt: 5, leaseMs: 3000 }), 0);
});

test("follower-read-no-readindex: a follower answers kv reads from its own state with no read barrier; the leader still asks", async (t) => {
  const node = Object.assign(new FakeNode("a"), {
    peerContact: () => ({
      sinceHeardMs: new Map<string, number>(),
      leadingForMs: null,
      electionTimeoutMs: 1000,
    }),
  });
  const queries = () =>
    new ControlQueries(
      {
        node: electorFaults("follower-read-no-readindex").controlNode!(node),
        state: node.state,
        logger: pino({ level: "silent" }),
        requestTimeoutMs: 1234,
        handlersDigest: "d",
      },
      new LeaderForwarder({ node, connect: () => ({}) as ControlApi }),
    );
  node.commitEvent({
    type: "member-joined",
    member: "m1",
    service: null,
    details: { address: "10.1.0.1:7001", services: [], checks: {} },
  });
  const q = queries();
  t.deepEqual(await q.kvGet({ key: "k" }), { found: false, value: "", revision: 0 });
  t.deepEqual(node.barriers, [1234], "as leader: ReadIndex");
  node.leaderId = "b";
  node.role = "follower";
  t.deepEqual(await q.kvGet({ key: "k" }), { found: false, value: "", revision: 0 });
  await q.kvList({ prefix: "" });
  t.deepEqual(node.barriers, [1234], "as follower: no barrier, local state as it is");
  // The wrapper passes everything else through.
  const wrapped = readsWithoutReadIndex(node);
  t.is(wrapped.id, "a");
  t.is(wrapped.leader(), "b");
  t.is(wrapped.addressOf("b"), node.addressOf("b"));
});
