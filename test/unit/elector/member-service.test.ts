/**
 * The elector's side of the member report stream in one process: the service is registered on
 * a fake host, and each test drives fake duplex streams by hand, with a fake leader view, a
 * recording failure detector and master keeper. Checked: the leader acknowledges
 * registrations and heartbeats (leader address, master grants, lease, newer cluster checks once
 * per stream) and feeds the tracker and keeper; a first message that is not a registration is
 * refused; a follower redirects; during an election a stream is held, then ended when a leader
 * is known; a leader not yet active grants nothing; check reports and goodbyes reach the
 * tracker; a leader change (or the returned function) ends every open stream.
 */
import * as grpc from "@grpc/grpc-js";
import test from "ava";
import pino from "pino";
import type { ClusterChecks } from "../../../src/coordinator/cluster-checks-state.ts";
import {
  type LeaderInfo,
  type MasterGrants,
  type MemberReportSink,
  registerMemberService,
} from "../../../src/elector/member-service.ts";
import { FakeMemberStream } from "./member-stream-fixture.ts";

class FakeLeaderInfo implements LeaderInfo {
  readonly id = "a";
  leaderId: string | null = "a";
  private readonly listeners = new Set<(leader: string | null, term: number) => void>();
  leader(): string | null {
    return this.leaderId;
  }
  addressOf(id: string): string | undefined {
    return { a: "10.0.0.1:7000", b: "10.0.0.2:7000" }[id];
  }
  onLeaderChange(listener: (leader: string | null, term: number) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  /** The known leader changes. */
  change(leader: string | null): void {
    this.leaderId = leader;
    for (const l of this.listeners) l(leader, 3);
  }
}

const LEASE_MS = 3000;
const GRANTS = [{ service: "db", epoch: 4 }];

function setup() {
  const node = new FakeLeaderInfo();
  const tracked: unknown[][] = [];
  const tracker: MemberReportSink = {
    registered: (reg) => void tracked.push(["registered", reg]),
    heard: (name) => void tracked.push(["heard", name]),
    checkReported: (...args) => void tracked.push(["checkReported", ...args]),
    left: (name) => void tracked.push(["left", name]),
  };
  const kept: unknown[][] = [];
  const keeper: MasterGrants & { isActive: boolean } = {
    isActive: true,
    grantsFor: (member) => {
      kept.push(["grantsFor", member]);
      return GRANTS.map((g) => ({ ...g }));
    },
    report: (member, roles) => void kept.push(["report", member, roles]),
    checksReported: (member, checks) => void kept.push(["checksReported", member, checks]),
    checkReported: (member, check, state) => void kept.push(["checkReported", member, check, state]),
  };
  let checks: ClusterChecks = { version: 2, checks: [{ name: "port" }] } as unknown as ClusterChecks;
  let report: ((call: FakeMemberStream) => void) | undefined;
  const endAll = registerMemberService(
    {
      addService: (_def, impl) => {
        report = impl.Report as unknown as (call: FakeMemberStream) => void;
      },
    },
    {
      node,
      tracker,
      logger: pino({ level: "silent" }),
      extras: { keeper, clusterChecks: () => checks, leaseMs: LEASE_MS },
    },
  );
  /** A member opens a stream. */
  const open = () => {
    const s = new FakeMemberStream();
    report!(s);
    return s;
  };
  return {
    node,
    tracked,
    kept,
    keeper,
    open,
    endAll,
    setChecks: (c: { version: number; checks: unknown[] }) => (checks = c as unknown as ClusterChecks),
  };
}

const registration = (name = "m1", extra: object = {}) => ({
  register: { name, address: "10.1.0.1:7001", services: ["db"], checks: { disk: "passing" }, ...extra },
});

test("the leader acknowledges registration and heartbeats with its address, grants, lease and newer checks", (t) => {
  const s = setup();
  const m = s.open();
  const roles = [{ service: "db", state: "standby", epoch: 3 }];
  m.send(registration("m1", { checksVersion: 0, roles }));
  t.deepEqual(s.tracked, [
    ["registered", { name: "m1", address: "10.1.0.1:7001", services: ["db"], checks: { disk: "passing" } }],
  ]);
  t.deepEqual(s.kept, [
    ["checksReported", "m1", { disk: "passing" }],
    ["report", "m1", roles],
    ["grantsFor", "m1"],
  ]);
  const checks = { version: 2, checksJson: JSON.stringify([{ name: "port" }]) };
  t.deepEqual(m.written, [
    {
      ack: {
        seq: 0,
        leader: "a",
        leaderAddress: "10.0.0.1:7000",
        masters: GRANTS,
        leaseMs: LEASE_MS,
        checks,
      },
    },
  ]);

  // Heartbeats: no leader address, and the checks already sent on this stream are not resent.
  m.send({ heartbeat: { seq: 1, checksVersion: 0, roles } });
  s.setChecks({ version: 3, checks: [] });
  m.send({ heartbeat: { seq: 2, checksVersion: 2 } });
  m.send({ heartbeat: { seq: 3, checksVersion: 3 } });
  t.deepEqual(m.written.slice(1), [
    { ack: { seq: 1, leader: "a", leaderAddress: "", masters: GRANTS, leaseMs: LEASE_MS } },
    {
      ack: {
        seq: 2,
        leader: "a",
        leaderAddress: "",
        masters: GRANTS,
        leaseMs: LEASE_MS,
        checks: { version: 3, checksJson: "[]" },
      },
    },
    { ack: { seq: 3, leader: "a", leaderAddress: "", masters: GRANTS, leaseMs: LEASE_MS } },
  ]);
  t.deepEqual(s.tracked.slice(1), [
    ["heard", "m1"],
    ["heard", "m1"],
    ["heard", "m1"],
  ]);
  t.deepEqual(s.kept.slice(3), [
    ["report", "m1", roles],
    ["grantsFor", "m1"],
    ["report", "m1", []],
    ["grantsFor", "m1"],
    ["report", "m1", []],
    ["grantsFor", "m1"],
  ]);
  t.false(m.ended);
});

test("a stream that does not start with a valid registration is refused with INVALID_ARGUMENT", (t) => {
  const s = setup();
  for (const first of [
    { heartbeat: { seq: 1 } },
    registration(""),
    { register: { address: "10.1.0.1:7001" } },
  ]) {
    const m = s.open();
    m.send(first);
    t.deepEqual(
      [m.destroyed?.code, m.destroyed?.details],
      [grpc.status.INVALID_ARGUMENT, "the first message must register a member name"],
    );
    t.deepEqual(m.written, []);
  }
  t.deepEqual(s.tracked, []);
  // The longest name by the one name rule (contract/names.ts) is accepted; one byte more is not.
  const long = s.open();
  long.send(registration("x".repeat(65)));
  t.is(long.destroyed?.code, grpc.status.INVALID_ARGUMENT);
  t.regex(
    long.destroyed?.details ?? "",
    /^registration refused: "x+" is not a valid member name: .* at most 64 characters$/,
  );
  const ok = s.open();
  ok.send(registration("x".repeat(64)));
  t.is(ok.destroyed, null);
  t.deepEqual(
    s.tracked.map((c) => c[0]),
    ["registered"],
  );
});

test("a follower redirects a registration to the leader and ends the stream", (t) => {
  const s = setup();
  s.node.leaderId = "b";
  const m = s.open();
  m.send(registration());
  t.deepEqual(m.written, [{ redirect: { leader: "b", leaderAddress: "10.0.0.2:7000" } }]);
  t.true(m.ended);
  t.deepEqual(s.tracked, []);
  t.deepEqual(s.kept, []);
});

test("during an election a registration is held, then ended once a leader is known", (t) => {
  const s = setup();
  s.node.leaderId = null;
  const m = s.open();
  m.send(registration());
  m.send({ heartbeat: { seq: 1 } });
  t.false(m.ended);
  s.node.change("b");
  // The later event: the leader change ended it; until then nothing was written or tracked.
  t.true(m.ended);
  t.deepEqual(m.written, []);
  t.deepEqual(s.tracked, []);
});

test("a leader not yet active still registers the member but grants nothing (lease 0: no word)", (t) => {
  const s = setup();
  s.keeper.isActive = false;
  const m = s.open();
  m.send(registration("m1", { checksVersion: 2 }));
  t.deepEqual(m.written, [
    { ack: { seq: 0, leader: "a", leaderAddress: "10.0.0.1:7000", masters: [], leaseMs: 0 } },
  ]);
  t.deepEqual(s.kept, [
    ["checksReported", "m1", { disk: "passing" }],
    ["report", "m1", []],
  ]);
  t.deepEqual(
    s.tracked.map((c) => c[0]),
    ["registered"],
  );
});

test("check reports in a known state reach the tracker and the keeper; a goodbye ends the stream", (t) => {
  const s = setup();
  const m = s.open();
  m.send(registration("m1", { checks: { disk: "pending", "service:db": "pending" } }));
  t.deepEqual(s.tracked[0], [
    "registered",
    {
      name: "m1",
      address: "10.1.0.1:7001",
      services: ["db"],
      checks: { disk: "pending", "service:db": "pending" },
    },
  ]);
  m.send({ check: { name: "disk", state: "failing", detail: "98% full" } });
  m.send({ check: { name: "service:db", state: "passing" } });
  m.send({ heartbeat: { seq: 1 } });
  m.send({ leave: {} });
  t.deepEqual(s.tracked.slice(1), [
    ["checkReported", "m1", "disk", "failing", "98% full"],
    ["checkReported", "m1", "service:db", "passing", ""],
    ["heard", "m1"],
    ["left", "m1"],
  ]);
  t.deepEqual(
    s.kept.filter((k) => String(k[0]).startsWith("check")),
    [
      ["checksReported", "m1", { disk: "pending", "service:db": "pending" }],
      ["checkReported", "m1", "disk", "failing"],
      ["checkReported", "m1", "service:db", "passing"],
    ],
  );
  t.true(m.ended);
  t.is(m.written.length, 2, "acks for the registration and the heartbeat only");
});

test("a check state that is not pending, passing or failing is refused with INVALID_ARGUMENT, naming it", (t) => {
  const s = setup();
  // In a registration: the stream is refused before the member is registered.
  const first = s.open();
  first.send(registration("m1", { checks: { disk: "passing", web: "unknown" } }));
  t.deepEqual(
    [first.destroyed?.code, first.destroyed?.details],
    [
      grpc.status.INVALID_ARGUMENT,
      'registration refused: check "web" has state "unknown"; a check state is one of pending, passing, failing',
    ],
  );
  t.deepEqual(first.written, []);
  t.deepEqual(s.tracked, []);
  t.deepEqual(s.kept, []);

  // In a report: the stream ends (the member registers again), and nothing reaches the tracker.
  for (const [report, details] of [
    [
      { name: "disk", state: "flapping", detail: "" },
      'check report refused: check "disk" has state "flapping"; a check state is one of pending, passing, failing',
    ],
    [
      { name: "disk" },
      'check report refused: check "disk" has state undefined; a check state is one of pending, passing, failing',
    ],
    [{ name: "", state: "passing" }, "check report refused: a check report must name its check"],
  ] as const) {
    const m = s.open();
    m.send(registration("m2"));
    m.send({ check: report });
    m.send({ heartbeat: { seq: 1 } });
    t.deepEqual([m.destroyed?.code, m.destroyed?.details], [grpc.status.INVALID_ARGUMENT, details]);
    t.is(m.written.length, 1, "only the registration was acknowledged");
  }
  t.deepEqual(
    s.tracked.map((c) => c[0]),
    ["registered", "registered", "registered"],
  );
});

test("a leader change ends every open stream, as does the returned function; closed streams are forgotten", (t) => {
  const s = setup();
  const [m1, m2] = [s.open(), s.open()];
  m1.send(registration("m1"));
  m2.send(registration("m2"));
  s.node.change("b");
  t.deepEqual([m1.ended, m2.ended], [true, true]);

  s.node.change("a");

  const [m3, m4, m5] = [s.open(), s.open(), s.open()];
  m3.send(registration("m3"));
  m4.send(registration("m4"));
  m5.send(registration("m5"));
  m3.emit("cancelled");
  m4.emit("error", new Error("reset"));
  s.endAll();
  t.deepEqual([m3.ended, m4.ended, m5.ended], [false, false, true]);
});
