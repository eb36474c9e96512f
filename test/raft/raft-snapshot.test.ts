/**
 * Log compaction and InstallSnapshot (Raft paper §7): a leader whose log no longer holds
 * the entries a follower needs sends its snapshot instead.
 */
import test from "ava";
import type { Message, Snapshot } from "../../raft/index.ts";
import { Cluster, dec, enc, msg, newNode, ofType, type TestNode } from "./helpers.ts";

const ELECTION = 10;

/** Take a snapshot of `n` at its applied index and compact its storage behind it. */
function compact(n: TestNode, data: string): Snapshot {
  const applied = n.status().applied;
  return n.storage.createSnapshot(applied, n.raw.confAt(applied), enc(data));
}

/** A 3-node cluster where c missed x1..x5 and the leader's storage is compacted past them. */
function laggingBehindSnapshot(): { c: Cluster; a: TestNode; snap: Snapshot; heal: () => void } {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { electionTick: ELECTION } });
  const a = c.elect("a");
  const heal = c.isolate("c");
  for (let i = 1; i <= 5; i++) c.propose("a", `x${i}`);
  t0(a.commit === 7, "setup: commit 7");
  const snap = compact(a, "state@7");
  t0(a.storage.firstIndex() === 8, "setup: compacted");
  return { c, a, snap, heal };
}

function t0(cond: boolean, what: string): void {
  if (!cond) throw new Error(what);
}

test("Snapshot: a follower behind the leader's compacted log receives a snap message and catches up", (t) => {
  const { c, a, heal } = laggingBehindSnapshot();
  const node = c.node("c");
  t.deepEqual(node.logIds(), ["2:2"]);
  heal();
  a.tick();
  c.stabilize();
  const snaps = c.delivered.filter((m) => m.type === "snap");
  t.is(snaps.length, 1);
  t.like(snaps[0], { from: "a", to: "c", term: 2 });
  t.is(snaps[0]!.snapshot?.meta.index, 7);
  t.is(snaps[0]!.snapshot?.meta.term, 2);
  t.deepEqual(snaps[0]!.snapshot?.meta.conf, { voters: ["a", "b", "c"], learners: [] });
  // c persisted it through a Ready and now starts its log after it
  t.is(node.snapshots.length, 1);
  t.is(dec(node.snapshots[0]!.data), "state@7");
  t.is(node.storage.snapshot().meta.index, 7);
  t.is(node.storage.firstIndex(), 8);
  t.is(node.commit, 7);
  t.is(node.status().applied, 7);
  const pr = a.status().progress.get("c")!;
  t.is(pr.state, "replicate");
  t.is(pr.match, 7);
  // and it follows normal replication afterwards
  c.propose("a", "y");
  t.deepEqual(node.appliedData(), ["y"]);
  t.deepEqual(node.logIds(), a.logIds());
});

test("Snapshot: while a snapshot is in flight nothing else is sent to that follower", (t) => {
  const { c, a, heal } = laggingBehindSnapshot();
  heal();
  const hold = c.dropIf((m) => m.type === "snap");
  a.tick();
  c.stabilize();
  t.is(c.dropped.filter((m) => m.type === "snap").length, 1);
  t.is(a.status().progress.get("c")!.state, "snapshot");
  const mark = c.traffic.length;
  c.propose("a", "y");
  const later = c.traffic.slice(mark);
  t.false(later.some((m) => m.to === "c" && (m.type === "app" || m.type === "snap")));
  hold();
});

test("Snapshot: a snapshot that is lost is sent again after a while", (t) => {
  const { c, a, heal } = laggingBehindSnapshot();
  heal();
  const hold = c.dropIf((m) => m.type === "snap");
  a.tick();
  c.stabilize();
  hold();
  let ticks = 0;
  while (!c.delivered.some((m) => m.type === "snap") && ticks < 5 * ELECTION) {
    c.tick(1);
    ticks++;
  }
  t.true(
    c.delivered.some((m) => m.type === "snap"),
    "retried",
  );
  t.true(ticks >= ELECTION, `not at once (${ticks} ticks)`);
  t.is(c.node("c").commit, a.commit);
});

test("Snapshot: reportSnapshot(failure) makes the leader probe again and resend", (t) => {
  const { c, a, heal } = laggingBehindSnapshot();
  heal();
  const hold = c.dropIf((m) => m.type === "snap");
  a.tick();
  c.stabilize();
  hold();
  a.raw.reportSnapshot("c", false);
  t.is(a.status().progress.get("c")!.state, "probe");
  a.tick();
  c.stabilize();
  t.true(c.delivered.some((m) => m.type === "snap"));
  t.is(c.node("c").commit, a.commit);
  t.is(a.status().progress.get("c")!.state, "replicate");
});

test("Snapshot: reportSnapshot(success) waits for the follower's answer, then replicates", (t) => {
  const { c, a, heal } = laggingBehindSnapshot();
  heal();
  a.tick();
  // run the heartbeat round until the leader emits the snapshot, and hold it
  let snap: Message[] = [];
  for (let i = 0; i < 20 && snap.length === 0; i++) {
    c.flush();
    snap = c.take((m) => m.type === "snap");
    c.deliverAll();
  }
  t.is(snap.length, 1);
  a.raw.reportSnapshot("c", true);
  t.is(a.status().progress.get("c")!.state, "probe");
  c.deliver(snap[0]!);
  c.stabilize();
  t.is(a.status().progress.get("c")!.state, "replicate");
  t.is(c.node("c").commit, a.commit);
  // reports about peers not in snapshot state, or off the leader, are ignored
  a.raw.reportSnapshot("b", false);
  t.is(a.status().progress.get("b")!.state, "replicate");
  const b = c.node("b");
  b.raw.reportSnapshot("c", false);
  t.is(b.role, "follower");
  t.false(b.raw.hasReady());
});

test("Snapshot: a follower ignores a snapshot at or below its commit index and answers with its commit", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"], log: [2, 2, 2], term: 2, commit: 4 });
  const snap: Snapshot = {
    meta: { index: 3, term: 2, conf: { voters: ["a", "b", "c"], learners: [] } },
    data: enc("old"),
  };
  b.step(msg({ type: "snap", from: "a", to: "b", term: 2, snapshot: snap }));
  const out = ofType(b.drain(), "app-resp");
  t.like(out[0], { index: 4, reject: false });
  t.is(b.snapshots.length, 0);
  t.deepEqual(b.logIds(), ["2:2", "3:2", "4:2"]);
});

test("Snapshot: a follower that already has the snapshot's last entry only learns that it is committed", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"], log: [2, 2, 2], term: 2, commit: 1 });
  const snap: Snapshot = {
    meta: { index: 3, term: 2, conf: { voters: ["a", "b", "c"], learners: [] } },
    data: enc("s"),
  };
  b.step(msg({ type: "snap", from: "a", to: "b", term: 2, snapshot: snap }));
  const out = ofType(b.drain(), "app-resp");
  t.like(out[0], { index: 3 });
  t.is(b.commit, 3);
  t.is(b.snapshots.length, 0, "its log is kept, entry 4 included");
  t.deepEqual(b.logIds(), ["2:2", "3:2", "4:2"]);
});

test("Snapshot: a follower whose log conflicts with the snapshot replaces its log and configuration", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"], log: [2, 2, 2], term: 3 });
  const conf = { voters: ["a", "b", "c"], learners: ["d"] };
  const snap: Snapshot = { meta: { index: 6, term: 3, conf }, data: enc("s6") };
  b.step(msg({ type: "snap", from: "a", to: "b", term: 3, snapshot: snap }));
  const rd = b.processReady()!;
  t.is(rd.snapshot?.meta.index, 6);
  t.like(ofType(rd.messages, "app-resp")[0], { index: 6 });
  t.is(b.commit, 6);
  t.deepEqual(b.status().conf, conf);
  t.deepEqual(b.logIds(), []);
  t.is(b.status().lastIndex, 6);
  // entries after the snapshot are accepted
  b.step(
    msg({
      type: "app",
      from: "a",
      to: "b",
      term: 3,
      index: 6,
      logTerm: 3,
      commit: 7,
      entries: [{ index: 7, term: 3, type: "normal", data: enc("after") }],
    }),
  );
  b.drain();
  t.deepEqual(b.appliedData(), ["after"]);
});

test("Snapshot: a candidate that receives a snapshot from the new leader follows it", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"], tuning: { preVote: false } });
  b.raw.campaign();
  t.is(b.role, "candidate");
  const snap: Snapshot = {
    meta: { index: 5, term: 2, conf: { voters: ["a", "b", "c"], learners: [] } },
    data: enc("s"),
  };
  b.step(msg({ type: "snap", from: "a", to: "b", term: 2, snapshot: snap }));
  t.is(b.role, "follower");
  t.is(b.leader, "a");
  b.drain();
  t.is(b.storage.snapshot().meta.index, 5);
});

test("Snapshot: a node restarted from a compacted storage keeps working", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  for (let i = 1; i <= 3; i++) c.propose("a", `x${i}`);
  for (const n of c.nodes.values()) compact(n, `state@${n.status().applied}`);
  c.restart("b");
  const b = c.node("b");
  t.is(b.status().applied, 5);
  t.is(b.commit, 5);
  t.deepEqual(b.logIds(), []);
  c.restart("a");
  c.tick(40);
  const leader = c.leaders()[0]!;
  t.truthy(leader);
  c.propose(leader.id, "y");
  // the restarted nodes start from their snapshot: only "y" is applied after it
  t.deepEqual(a.appliedData(), ["y"]);
  t.deepEqual(b.appliedData(), ["y"]);
  t.deepEqual(c.node("c").appliedData(), ["x1", "x2", "x3", "y"]);
  t.is(a.commit, 7);
});
