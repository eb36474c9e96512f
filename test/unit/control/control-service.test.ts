/**
 * The control service in one process: a fake node (real CoordinatorState, proposals applied
 * at once), fake clients standing in for the leader's control API, a clock whose polls the
 * test drives, and fakes of the leader's handler runner and master keeper. Checked: writes run
 * on the leader or are forwarded to it (also when leadership moves mid-call), reads wait for
 * the read barrier and answer locally, status and the electors table, adding an elector as a
 * learner first, events and audit, drain / undrain / promote waiting for the masters to move,
 * cluster checks validated before anything is committed, and the gRPC mapping of every method
 * and of each kind of failure to a status code.
 */
import * as grpc from "@grpc/grpc-js";
import test from "ava";
import pino from "pino";
import { NotLeaderError } from "../../../raft/index.ts";
import { registerControlService } from "../../../src/control/control-grpc.ts";
import type { ControlClock } from "../../../src/control/control-node.ts";
import { ControlService } from "../../../src/control/control-service.ts";
import { type ControlApi, ControlError } from "../../../src/control/control-types.ts";
import { eventCommitter } from "../../../src/elector/event-stamp.ts";
import { HandlerRetryError } from "../../../src/elector/leader/handler-runner.ts";
import type { PeerContact } from "../../../src/elector/elector-node.ts";
import { SwitchoverError } from "../../../src/elector/leader/master-keeper.ts";
import { controlServiceDefinition } from "../../../src/rpc/service-definitions.ts";
import { FakeNode, FIXED_TIME } from "../elector/fakes.ts";

const REQUEST_TIMEOUT_MS = 1234;
const SWITCHOVER_TIMEOUT_MS = 1000;
const CATCH_UP_TIMEOUT_MS = 500;
const ELECTION_TIMEOUT_MS = 1000;

/** The fake node, and when it last heard from each peer: by default every peer just now. */
class ContactNode extends FakeNode {
  /** Milliseconds since each peer was heard from (absent: never). */
  readonly sinceHeardMs = new Map<string, number>([
    ["b", 0],
    ["c", 0],
    ["d", 0],
  ]);
  /** How long it has led, while `role` is leader. */
  leadingForMs = 60_000;
  peerContact(): PeerContact {
    return {
      sinceHeardMs: this.sinceHeardMs,
      leadingForMs: this.role === "leader" ? this.leadingForMs : null,
      electionTimeoutMs: ELECTION_TIMEOUT_MS,
    };
  }
}

/** A clock that moves only when the service sleeps; `onSleep` acts on the nth poll. */
class PollClock implements ControlClock {
  private nowMs = 0;
  sleeps = 0;
  onSleep: (n: number) => void = () => {};
  now = (): number => this.nowMs;
  sleep = async (ms: number): Promise<void> => {
    this.nowMs += ms;
    this.onSleep(++this.sleeps);
  };
}

function setup() {
  const node = new ContactNode("a");
  const clock = new PollClock();
  /** Calls made on clients of other nodes: [address, method, ...args]. */
  const forwarded: unknown[][] = [];
  const connected: string[] = [];
  /** What a forwarded call answers, by method (default: `{ from: address }`). */
  const answers = new Map<string, (...args: unknown[]) => Promise<unknown>>();
  const retries: [number, string][] = [];
  let retryAnswer: () => string[] = () => ["notify"];
  const switchovers: [string, string][] = [];
  let switchover: (service: string, member: string) => void = () => {};
  const reported = new Map<string, { state: string; epoch: number }>();
  const candidates = new Map<string, string[]>();
  const service = new ControlService({
    node,
    state: node.state,
    logger: pino({ level: "silent" }),
    connect: (addr) => {
      connected.push(addr);
      return new Proxy({} as ControlApi, {
        get:
          (_, method: string) =>
          (...args: unknown[]) => {
            forwarded.push([addr, method, ...args]);
            if (method === "close") return undefined;
            return answers.get(method)?.(...args) ?? Promise.resolve({ from: addr });
          },
      });
    },
    commitEvent: eventCommitter({ node, clock: () => FIXED_TIME }),
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    catchUpTimeoutMs: CATCH_UP_TIMEOUT_MS,
    handlersDigest: "digest-1",
    retryHandler: (eventId, handler) => {
      retries.push([eventId, handler]);
      return retryAnswer();
    },
    requestSwitchover: (s, m) => {
      switchovers.push([s, m]);
      switchover(s, m);
    },
    reportedRole: (m, s) => reported.get(`${m}/${s}`),
    candidates: (s) => candidates.get(s) ?? [],
    switchoverTimeoutMs: SWITCHOVER_TIMEOUT_MS,
    clock,
  });
  const join = (member: string, services: string[] = ["db"]) =>
    node.commitEvent({
      type: "member-joined",
      member,
      service: null,
      details: { address: `10.1.0.${member.length}:7001`, services, checks: {} },
    });
  const master = (
    type: "master-promoted" | "master-demoted",
    member: string,
    service: string,
    epoch: number,
  ) => node.commitEvent({ type, member, service, details: { epoch } });
  return {
    node,
    clock,
    service,
    q: service.queries,
    c: service.commands,
    e: service.electors,
    forwarded,
    connected,
    answers,
    retries,
    setRetryAnswer: (f: () => string[]) => (retryAnswer = f),
    switchovers,
    setSwitchover: (f: (s: string, m: string) => void) => (switchover = f),
    reported,
    candidates,
    join,
    master,
  };
}

/** Register on a fake host and return the gRPC handlers by method name. */
function grpcMethods(service: ControlService) {
  let impl: grpc.UntypedServiceImplementation = {};
  registerControlService({ addService: (_def, i) => (impl = i) }, service, pino({ level: "silent" }));
  const call = (method: string, request: object) =>
    new Promise<{ err: grpc.ServiceError | null; res: unknown }>((resolve) =>
      (impl[method] as grpc.handleUnaryCall<object, unknown>)(
        { request } as grpc.ServerUnaryCall<object, unknown>,
        (err, res) => resolve({ err: err as grpc.ServiceError | null, res }),
      ),
    );
  return { names: Object.keys(impl).sort(), call };
}

test("on the leader, KV writes commit here and each read waits for the read barrier", async (t) => {
  const s = setup();
  t.deepEqual(await s.c.kvPut({ key: "app/a", value: "1" }), { revision: 1 });
  t.deepEqual(await s.c.kvPut({ key: "app/b", value: "2" }), { revision: 2 });
  t.deepEqual(await s.c.kvPut({ key: "other", value: "3" }), { revision: 3 });
  t.deepEqual(await s.q.kvGet({ key: "app/b" }), { found: true, value: "2", revision: 2 });
  t.deepEqual(await s.q.kvList({ prefix: "app/" }), {
    items: [
      { key: "app/a", value: "1", revision: 1 },
      { key: "app/b", value: "2", revision: 2 },
    ],
  });
  t.deepEqual(await s.c.kvDelete({ key: "app/a" }), { deleted: true, revision: 4 });
  t.deepEqual(await s.c.kvDelete({ key: "app/a" }), { deleted: false, revision: 5 });
  t.deepEqual(await s.q.kvGet({ key: "app/a" }), { found: false, value: "", revision: 0 });
  t.deepEqual(s.node.barriers, [REQUEST_TIMEOUT_MS, REQUEST_TIMEOUT_MS, REQUEST_TIMEOUT_MS]);
  t.deepEqual(s.connected, []);
});

test("a follower forwards writes to the leader (one client per address) and answers reads itself", async (t) => {
  const s = setup();
  s.node.leaderId = "b";
  s.node.role = "follower";
  t.deepEqual(await s.c.kvPut({ key: "k", value: "v" }), { from: "10.0.0.2:7000" });
  t.deepEqual(await s.c.drain({ member: "m1" }), { from: "10.0.0.2:7000" });
  t.deepEqual(await s.q.kvGet({ key: "k" }), { found: false, value: "", revision: 0 });
  t.deepEqual(s.connected, ["10.0.0.2:7000"]);
  t.deepEqual(s.forwarded, [
    ["10.0.0.2:7000", "kvPut", "k", "v"],
    ["10.0.0.2:7000", "drain", "m1"],
  ]);
  t.deepEqual(s.node.proposals, []);
  t.deepEqual(s.node.barriers, [REQUEST_TIMEOUT_MS]);
  s.service.close();
  t.deepEqual(s.forwarded.at(-1), ["10.0.0.2:7000", "close"]);
});

test("a write that finds leadership moved mid-call is carried to the new leader", async (t) => {
  const s = setup();
  s.node.failNext.push(new NotLeaderError("c"));
  t.deepEqual(await s.c.kvPut({ key: "k", value: "v" }), { from: "10.0.0.3:7000" });
  t.deepEqual(s.forwarded, [["10.0.0.3:7000", "kvPut", "k", "v"]]);
  t.is(s.node.state.kv.get("k"), undefined);
});

test("status: the leader's own view with the electors table; a follower relays the leader's, or answers itself", async (t) => {
  const s = setup();
  s.join("m1");
  // Raft's recentActive is not what decides: b is marked inactive but was heard just now.
  s.node.progress.set("b", { match: 1, next: 2, state: "replicate", learner: false, recentActive: false });
  s.node.progress.set("c", { match: 0, next: 1, state: "probe", learner: false, recentActive: true });
  s.node.sinceHeardMs.set("c", ELECTION_TIMEOUT_MS + 1);
  const local = {
    leader: "a",
    term: 2,
    commit: 1,
    applied: 1,
    electors: [
      { name: "a", address: "10.0.0.1:7000", role: "leader", match: 1, reachable: true },
      { name: "b", address: "10.0.0.2:7000", role: "follower", match: 1, reachable: true },
      { name: "c", address: "10.0.0.3:7000", role: "follower", match: 0, reachable: false },
    ],
    members: { up: 1, down: 0, drained: 0 },
    answeredBy: "a",
    handlersDigest: "digest-1",
  };
  t.deepEqual(await s.q.status(), local);
  t.deepEqual(await s.q.electorsList(), { electors: local.electors });

  s.node.leaderId = "b";
  s.node.role = "follower";
  t.deepEqual(await s.service.status(), { from: "10.0.0.2:7000" });
  s.answers.set("status", () => Promise.reject(new ControlError(grpc.status.UNAVAILABLE, "down")));
  const fallback = await s.q.status();
  t.is(fallback.leader, "b");
  t.is(fallback.answeredBy, "a");
  // A follower knows itself and the leader it hears from; the other follower, not heard
  // from lately, is unknown (not unreachable). Only the leader tracks match indexes.
  t.deepEqual(
    fallback.electors.map((e) => [e.name, e.role, e.match, e.reachable]),
    [
      ["a", "follower", null, true],
      ["b", "leader", null, true],
      ["c", "follower", null, null],
    ],
  );
  const asked = s.forwarded.length;
  t.is((await s.q.status({ local: true })).answeredBy, "a");
  t.is(s.forwarded.length, asked, "a local status asks nobody");
});

test("electorsAdd adds a learner, waits until it has caught up, then promotes it", async (t) => {
  const s = setup();
  s.node.commitEvent({ type: "leader-elected", member: null, service: null, details: { leader: "a" } });
  // The learner catches up (has everything committed) by the third poll.
  let caughtUp = 0;
  s.clock.onSleep = (n) => {
    if (n !== 3) return;
    caughtUp = s.node.state.applied;
    s.node.progress.set("d", {
      match: caughtUp,
      next: caughtUp + 1,
      state: "replicate",
      learner: true,
      recentActive: true,
    });
  };
  const { electors } = await s.e.electorsAdd({ name: "d", address: "10.0.0.4:7000" });
  t.deepEqual(s.node.confChanges, [
    { type: "add-learner", node: "d", context: "10.0.0.4:7000" },
    { type: "promote", node: "d" },
  ]);
  t.is(s.clock.sleeps, 3);
  t.is(caughtUp, 2);
  t.deepEqual(electors.at(-1), {
    name: "d",
    address: "10.0.0.4:7000",
    role: "follower",
    match: 2,
    reachable: true,
  });

  // Adding an existing voter changes nothing.
  await s.e.electorsAdd({ name: "b", address: "10.0.0.2:7000" });
  t.is(s.node.confChanges.length, 2);
  // Removal goes straight through.
  const after = await s.e.electorsRemove({ name: "d" });
  t.deepEqual(s.node.confChanges.at(-1), { type: "remove", node: "d" });
  t.deepEqual(
    after.electors.map((e) => e.name),
    ["a", "b", "c"],
  );
});

test("electorsAdd refuses bad names and addresses, and gives up on a learner that does not catch up", async (t) => {
  const s = setup();
  t.throws(() => s.e.electorsAdd({ name: "-x", address: "10.0.0.4:7000" }), {
    instanceOf: ControlError,
    message:
      "\"-x\" is not a valid elector name: use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters",
  });
  t.throws(() => s.e.electorsAdd({ name: "d", address: "10.0.0.4" }), {
    instanceOf: ControlError,
    message: 'elector address: "10.0.0.4" has no port; write host:port, e.g. 10.0.0.1:7400',
  });
  t.throws(() => s.e.electorsAdd({ name: "d", address: "0.0.0.0:7000" }), {
    instanceOf: ControlError,
    message: "elector address: must be an address other nodes can reach",
  });
  t.throws(() => s.e.electorsAdd({ name: "x".repeat(70_000), address: "10.0.0.4:7000" }), {
    instanceOf: ControlError,
    message: /is not a valid elector name: .* at most 64 characters$/,
  });
  t.deepEqual(s.node.confChanges, []);
  s.node.commitEvent({ type: "leader-elected", member: null, service: null, details: { leader: "a" } });
  const err = await t.throwsAsync(s.e.electorsAdd({ name: "d", address: "[::1]:7000" }), {
    instanceOf: ControlError,
  });
  t.is(err?.code, grpc.status.DEADLINE_EXCEEDED);
  t.is(
    err?.message,
    `d did not catch up within ${CATCH_UP_TIMEOUT_MS} ms (match 0, commit 2); it stays a learner — is it running and reachable?`,
  );
  t.deepEqual(s.node.confChanges, [{ type: "add-learner", node: "d", context: "[::1]:7000" }]);
});

test("events filter by position and type, honour the limit and refuse unknown types; audit verifies the chain", async (t) => {
  const s = setup();
  const joined = ["m1", "m2", "m3"].map((m) => s.join(m));
  const down = s.node.commitEvent({ type: "member-down", member: "m2", service: null, details: {} });
  const parse = (r: { eventsJson: string[] }) => r.eventsJson.map((j) => JSON.parse(j) as { id: number });
  t.deepEqual(
    parse(await s.q.events({ since: joined[0]!.id, type: "", limit: 0 })).map((e) => e.id),
    [joined[1]!.id, joined[2]!.id, down.id],
  );
  t.deepEqual(parse(await s.q.events({ since: 0, type: "member-down", limit: 0 })), [
    JSON.parse(JSON.stringify(down)),
  ]);
  t.deepEqual(
    parse(await s.q.events({ since: 0, type: "", limit: 2 })).map((e) => e.id),
    [joined[0]!.id, joined[1]!.id],
  );
  await t.throwsAsync(s.q.events({ since: 0, type: "member-exploded", limit: 0 }), {
    instanceOf: ControlError,
    message: 'unknown event type "member-exploded"',
  });
  t.deepEqual(await s.q.auditVerify(), {
    ok: true,
    checked: 4,
    brokenId: 0,
    reason: "",
    anchorId: 0,
    headHash: down.hash,
  });
  t.is(s.node.barriers.length, 4);
});

test("drain commits member-drained once, stamped by the shared rule, and waits until its master roles moved", async (t) => {
  const s = setup();
  s.join("m1");
  s.join("m2");
  s.master("master-promoted", "m1", "db", 1);
  // The keeper's part, played by the test: on the second poll, db moves to m2, which then
  // reports its promote done.
  s.clock.onSleep = (n) => {
    if (n !== 2) return;
    s.master("master-demoted", "m1", "db", 1);
    s.master("master-promoted", "m2", "db", 2);
    s.reported.set("m2/db", { state: "master", epoch: 2 });
  };
  t.deepEqual(await s.c.drain({ member: "m1" }), { status: "drained", moved: ["db"] });
  t.is(s.clock.sleeps, 2);
  const drained = s.node.events.filter((e) => e.type === "member-drained");
  t.deepEqual(
    drained.map((e) => [e.member, e.time, e.details]),
    [["m1", FIXED_TIME.toISOString(), {}]],
  );
  // Draining again proposes nothing: the next proposal is undrain's.
  t.deepEqual(await s.c.drain({ member: "m1" }), { status: "drained", moved: [] });
  t.deepEqual(await s.c.undrain({ member: "m1" }), { status: "up", moved: [] });
  t.deepEqual(await s.c.undrain({ member: "m1" }), { status: "up", moved: [] });
  t.deepEqual(
    s.node.proposals.map((p) => (p.type === "event" ? p.event.type : p.type)),
    ["member-drained", "member-undrained"],
  );
  for (const call of [() => s.c.drain({ member: "nobody" }), () => s.c.undrain({ member: "nobody" })]) {
    const err = await t.throwsAsync(call(), { instanceOf: ControlError, message: "no member named nobody" });
    t.is(err?.code, grpc.status.NOT_FOUND);
  }
});

test("promote asks the keeper, waits for the new master, names a refusal, and times out naming what it waited for", async (t) => {
  const s = setup();
  s.join("m1");
  s.join("m2");
  s.master("master-promoted", "m1", "db", 1);
  t.deepEqual(await s.c.promote({ service: "db", member: "m1" }), { epoch: 1, previous: "" });
  t.deepEqual(s.switchovers, [], "promoting the current master asks nothing");

  s.clock.onSleep = (n) => {
    if (n !== 1) return;
    s.master("master-demoted", "m1", "db", 1);
    s.master("master-promoted", "m2", "db", 2);
    s.reported.set("m2/db", { state: "master", epoch: 2 });
  };
  t.deepEqual(await s.c.promote({ service: "db", member: "m2" }), { epoch: 2, previous: "m1" });
  t.deepEqual(s.switchovers, [["db", "m2"]]);

  s.setSwitchover(() => {
    throw new SwitchoverError("m3 does not run db");
  });
  const refused = await t.throwsAsync(s.c.promote({ service: "db", member: "m3" }), {
    instanceOf: ControlError,
    message: "m3 does not run db",
  });
  t.is(refused?.code, grpc.status.FAILED_PRECONDITION);

  s.setSwitchover(() => {});
  s.clock.onSleep = () => {};
  const polls = s.clock.sleeps;
  const late = await t.throwsAsync(s.c.promote({ service: "db", member: "m1" }), {
    instanceOf: ControlError,
  });
  t.is(late?.code, grpc.status.DEADLINE_EXCEEDED);
  t.is(late?.message, `timed out after ${SWITCHOVER_TIMEOUT_MS} ms waiting for m1 to become master of db`);
  t.is(s.clock.sleeps - polls, SWITCHOVER_TIMEOUT_MS / 50 + 1);
});

test("a promote whose leader steps down while it waits is carried to the new leader", async (t) => {
  const s = setup();
  s.join("m1");
  s.join("m2");
  s.master("master-promoted", "m1", "db", 1);
  s.clock.onSleep = () => {
    s.node.leaderId = "b";
  };
  t.deepEqual(await s.c.promote({ service: "db", member: "m2" }), { from: "10.0.0.2:7000" });
  t.deepEqual(s.forwarded, [["10.0.0.2:7000", "promote", "db", "m2"]]);
});

test("checks apply validates on the node asked, then commits checks-updated on the leader", async (t) => {
  const s = setup();
  const bad = [
    ["not json", "checks: not a JSON array of check definitions"],
    [JSON.stringify([{ name: "web", type: "http", url: "ftp://x/" }]), /checks\[0\] \(web\)\.url/],
  ] as const;
  for (const [checksJson, message] of bad) {
    const err = t.throws(() => s.c.checksApply({ checksJson }), { instanceOf: ControlError, message });
    t.is(err?.code, grpc.status.INVALID_ARGUMENT);
  }
  t.deepEqual(s.node.proposals, []);

  const defs = [{ name: "port", type: "tcp", address: "127.0.0.1:80" }];
  const applied = await s.c.checksApply({ checksJson: JSON.stringify(defs) });
  t.is(applied.version, 1);
  t.deepEqual(JSON.parse(applied.checksJson), defs);
  const [updated] = s.node.events;
  t.deepEqual(
    [updated?.type, updated?.time, updated?.details],
    ["checks-updated", FIXED_TIME.toISOString(), { checks: defs, names: ["port"] }],
  );
  t.deepEqual(await s.q.checksList(), applied);
});

test("handlers retry hands the pair to the runner and refuses when nothing was started", async (t) => {
  const s = setup();
  t.deepEqual(await s.c.handlersRetry({ eventId: 7, handler: "notify" }), { started: ["notify"] });
  s.setRetryAnswer(() => []);
  const err = await t.throwsAsync(s.c.handlersRetry({ eventId: 8, handler: "" }), {
    instanceOf: ControlError,
    message: "no failed handler run of event 8 to retry",
  });
  t.is(err?.code, grpc.status.FAILED_PRECONDITION);
  t.deepEqual(s.retries, [
    [7, "notify"],
    [8, ""],
  ]);
});

test("gRPC: every proto method is served, and each kind of failure gets its status code", async (t) => {
  const s = setup();
  const rpc = grpcMethods(s.service);
  t.deepEqual(rpc.names, Object.keys(controlServiceDefinition()).sort());
  t.is(rpc.names.length, 17);

  t.deepEqual(await rpc.call("KvPut", { key: "k", value: "v" }), { err: null, res: { revision: 1 } });
  // A synchronous validation error is answered like a rejection.
  const bad = await rpc.call("ElectorsAdd", { name: "-x", address: "h:1" });
  t.deepEqual(
    [bad.err?.code, bad.err?.details],
    [
      grpc.status.INVALID_ARGUMENT,
      "\"-x\" is not a valid elector name: use letters, digits, '.', '_' and '-', starting with a letter or digit, at most 64 characters",
    ],
  );
  s.setRetryAnswer(() => {
    throw new HandlerRetryError("event 3 is not in the event log");
  });
  const retry = await rpc.call("HandlersRetry", { eventId: 3, handler: "" });
  t.deepEqual(
    [retry.err?.code, retry.err?.details],
    [grpc.status.FAILED_PRECONDITION, "event 3 is not in the event log"],
  );
  s.setRetryAnswer(() => {
    throw new Error("a bug");
  });
  const bug = await rpc.call("HandlersRetry", { eventId: 3, handler: "" });
  t.deepEqual([bug.err?.code, bug.err?.details], [grpc.status.INTERNAL, "a bug"]);

  s.node.leaderId = null;
  const none = await rpc.call("KvPut", { key: "k", value: "v" });
  t.deepEqual(
    [none.err?.code, none.err?.details],
    [grpc.status.UNAVAILABLE, "the cluster has no leader right now"],
  );
  t.deepEqual(s.forwarded, []);
});
