/**
 * `/metrics` from a snapshot, in one process: what a node does not know has no series (a
 * follower's unknown peers, match indexes off the leader), no leader reads as
 * `conclave_raft_has_leader 0`, and the latency histograms count what latency.ts is told,
 * only for the roles the node runs, and only while its status port is open. The histogram
 * tests are serial: latency sinks are process-wide.
 */
import test from "ava";
import type { ElectorStatus } from "../../../src/control/control-types.ts";
import {
  handlerRunOutcome,
  observeApply,
  observeCommit,
  observeFsync,
  observeHandlerRun,
  observeReportRtt,
} from "../../../src/status/latency.ts";
import { BUCKETS, exponentialBuckets, METRIC } from "../../../src/status/metric-names.ts";
import { NodeMetrics } from "../../../src/status/node-metrics.ts";
import type { ElectorSnapshot, MemberSnapshot, NodeSnapshot } from "../../../src/status/node-view.ts";

function elector(leader: string | null, electors: ElectorStatus[]): ElectorSnapshot {
  return {
    status: {
      leader,
      term: 3,
      commit: 9,
      applied: 9,
      electors,
      members: { up: 0, down: 0, drained: 0 },
      answeredBy: "e1",
      handlersDigest: "x",
    },
    members: [],
    events: [],
    eventCounts: {},
  };
}

const member: MemberSnapshot = {
  connectedTo: "127.0.0.1:7401",
  leader: "e2",
  heartbeatsAcked: 3,
  checks: {},
  services: [],
};

const snap = (el: ElectorSnapshot | null, me: MemberSnapshot | null = null): NodeSnapshot => ({
  node: "e1",
  time: "2030-01-01T00:00:00.000Z",
  elector: el,
  member: me,
});

const lines = (text: string) => text.split("\n");

/** The follower e1's view: it hears the leader e2; the other follower e3 is unknown. */
const followerView: ElectorStatus[] = [
  { name: "e1", address: "a:1", role: "follower", match: null, reachable: true },
  { name: "e2", address: "a:2", role: "leader", match: null, reachable: true },
  { name: "e3", address: "a:3", role: "follower", match: null, reachable: null },
];

test("a follower: 1 for itself and the leader, no series for the follower it cannot know, no match index", async (t) => {
  const m = new NodeMetrics({ elector: true, member: false });
  t.teardown(() => m.close());
  const text = await m.text(snap(elector("e2", followerView)));
  const reachable = lines(text).filter((l) => l.startsWith(`${METRIC.electorReachable}{`));
  t.deepEqual(reachable, [
    `${METRIC.electorReachable}{elector="e1"} 1`,
    `${METRIC.electorReachable}{elector="e2"} 1`,
  ]);
  t.deepEqual(
    lines(text).filter((l) => l.startsWith(`${METRIC.electorMatchIndex}{`)),
    [],
  );
  t.true(lines(text).includes(`${METRIC.raftHasLeader} 1`));
  t.true(lines(text).includes(`${METRIC.raftIsLeader} 0`));
});

test("the leader: match for every elector, 0 for one it has not heard from; a later scrape drops series that became unknown", async (t) => {
  const m = new NodeMetrics({ elector: true, member: false });
  t.teardown(() => m.close());
  const leaderView: ElectorStatus[] = [
    { name: "e1", address: "a:1", role: "leader", match: 9, reachable: true },
    { name: "e2", address: "a:2", role: "follower", match: 9, reachable: true },
    { name: "e3", address: "a:3", role: "follower", match: 4, reachable: false },
  ];
  const text = lines(await m.text(snap(elector("e1", leaderView))));
  for (const l of [
    `${METRIC.electorMatchIndex}{elector="e3"} 4`,
    `${METRIC.electorReachable}{elector="e3"} 0`,
    `${METRIC.electorReachable}{elector="e2"} 1`,
    `${METRIC.raftIsLeader} 1`,
  ])
    t.true(text.includes(l), l);
  const later = await m.text(snap(elector("e2", followerView)));
  t.false(later.includes(`${METRIC.electorReachable}{elector="e3"}`), "no stale 0 from the previous scrape");
  t.false(later.includes(`${METRIC.electorMatchIndex}{`));
});

test("no leader: has_leader 0 and is_leader 0", async (t) => {
  const m = new NodeMetrics({ elector: true, member: false });
  t.teardown(() => m.close());
  const text = lines(await m.text(snap(elector(null, followerView))));
  t.true(text.includes(`${METRIC.raftHasLeader} 0`));
  t.true(text.includes(`${METRIC.raftIsLeader} 0`));
  t.true(text.includes(`${METRIC.healthy} 0`));
});

test("buckets are etcd's exponential ones: fsync from 1 ms to 8.192 s", (t) => {
  t.deepEqual(
    BUCKETS.fsync,
    [0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192],
  );
  t.is(BUCKETS.apply.at(-1), 52.4288);
  t.deepEqual(exponentialBuckets(0.5, 3, 3), [0.5, 1.5, 4.5]);
});

test("a handler run's outcome: exit 0 succeeded, any other exit failed, the rest by kind", (t) => {
  t.is(handlerRunOutcome({ kind: "exited", code: 0 }), "succeeded");
  t.is(handlerRunOutcome({ kind: "exited", code: 3 }), "failed");
  t.is(handlerRunOutcome({ kind: "exited", code: null }), "failed");
  t.is(handlerRunOutcome({ kind: "timeout" }), "timeout");
  t.is(handlerRunOutcome({ kind: "killed" }), "killed");
  t.is(handlerRunOutcome({ kind: "spawn-failed" }), "spawn-failed");
});

test.serial(
  "an elector's histograms count each observation in its bucket; a member's RTT is not among them",
  async (t) => {
    const m = new NodeMetrics({ elector: true, member: false });
    t.teardown(() => m.close());
    observeFsync(0.003);
    observeFsync(0.02);
    observeCommit(0.005);
    observeApply(0.00005);
    observeHandlerRun("dns", "succeeded", 0.3);
    observeHandlerRun("dns", "failed", 12);
    observeReportRtt(0.001);
    const text = lines(await m.text(snap(elector("e1", []))));
    for (const l of [
      `${METRIC.storageFsyncDuration}_bucket{le="0.002"} 0`,
      `${METRIC.storageFsyncDuration}_bucket{le="0.004"} 1`,
      `${METRIC.storageFsyncDuration}_bucket{le="0.032"} 2`,
      `${METRIC.storageFsyncDuration}_bucket{le="+Inf"} 2`,
      `${METRIC.storageFsyncDuration}_sum 0.023`,
      `${METRIC.storageFsyncDuration}_count 2`,
      `${METRIC.proposalCommitDuration}_bucket{le="0.004"} 0`,
      `${METRIC.proposalCommitDuration}_bucket{le="0.008"} 1`,
      `${METRIC.applyDuration}_bucket{le="0.0001"} 1`,
      `${METRIC.handlerRunDuration}_count{handler="dns",outcome="succeeded"} 1`,
      `${METRIC.handlerRunDuration}_bucket{le="0.32",handler="dns",outcome="succeeded"} 1`,
      `${METRIC.handlerRunDuration}_bucket{le="10.24",handler="dns",outcome="failed"} 0`,
      `${METRIC.handlerRunDuration}_bucket{le="20.48",handler="dns",outcome="failed"} 1`,
    ])
      t.true(text.includes(l), l);
    t.false(
      text.some((l) => l.startsWith(METRIC.memberReportRtt)),
      "an elector-only node has no RTT series",
    );
  },
);

test.serial(
  "a member-only node has the report round trip and none of the elector's histograms",
  async (t) => {
    const m = new NodeMetrics({ elector: false, member: true });
    t.teardown(() => m.close());
    observeReportRtt(0.0003);
    observeFsync(0.003);
    const text = lines(await m.text(snap(null, member)));
    t.true(text.includes(`${METRIC.memberReportRtt}_bucket{le="0.0002"} 0`));
    t.true(text.includes(`${METRIC.memberReportRtt}_bucket{le="0.0004"} 1`));
    t.true(text.includes(`${METRIC.memberReportRtt}_count 1`));
    t.false(text.some((l) => l.startsWith("conclave_storage_") || l.startsWith("conclave_raft_")));
  },
);

test.serial("once closed, a node's histograms count nothing more", async (t) => {
  const m = new NodeMetrics({ elector: true, member: false });
  observeFsync(0.003);
  m.close();
  observeFsync(0.003);
  const text = lines(await m.text(snap(elector("e1", []))));
  t.true(text.includes(`${METRIC.storageFsyncDuration}_count 1`));
});
