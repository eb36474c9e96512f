/**
 * Replication flow control (maxInflightMsgs, maxInflightBytes, maxSizePerMsg, probe state)
 * and fast log backtracking (dissertation §5.3: the follower's rejection hints where the
 * logs may match, so a long divergent log is repaired in few round trips).
 */
import test from "ava";
import { entrySize, type Message } from "../../raft/index.ts";
import { Cluster, enc } from "./helpers.ts";

function appsTo(ms: readonly Message[], to: string): Message[] {
  return ms.filter((m) => m.type === "app" && m.to === to && m.entries.length > 0);
}

test("Flow control: maxInflightMsgs bounds the unacknowledged appends to a replicating follower", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { maxInflightMsgs: 2 } });
  const a = c.elect("a");
  t.is(a.status().progress.get("b")!.state, "replicate");
  c.dropIf((m) => m.to === "b" && m.type === "app"); // b never acknowledges
  const mark = c.traffic.length;
  for (let i = 0; i < 5; i++) c.propose("a", `p${i}`);
  t.is(appsTo(c.traffic.slice(mark), "b").length, 2, "two in flight, then the window is full");
  t.is(appsTo(c.traffic.slice(mark), "c").length, 5, "c acknowledges, so its window never fills");
  t.is(a.commit, 7, "a and c commit everything");
});

test("Flow control: a full window reopens when acknowledgements arrive, and the follower catches up", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { maxInflightMsgs: 2 } });
  const a = c.elect("a");
  const cut = c.dropIf((m) => m.to === "b" && m.type === "app");
  for (let i = 0; i < 5; i++) c.propose("a", `p${i}`);
  cut();
  c.tick(3);
  t.deepEqual(c.node("b").logIds(), a.logIds());
  t.deepEqual(c.node("b").appliedData(), ["p0", "p1", "p2", "p3", "p4"]);
});

test("Flow control: maxInflightBytes bounds the unacknowledged bytes to a follower", (t) => {
  const data = "0123456789"; // 10 bytes + 16 of header = 26 per entry
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { maxInflightBytes: 60 } });
  c.elect("a");
  c.dropIf((m) => m.to === "b" && m.type === "app");
  const mark = c.traffic.length;
  for (let i = 0; i < 6; i++) c.propose("a", data);
  // 26, 52 < 60: still open; 78 >= 60: full after the third
  t.is(appsTo(c.traffic.slice(mark), "b").length, 3);
});

test("Flow control: maxSizePerMsg limits the entries carried by one append", (t) => {
  const data = "0123456789"; // 26 bytes per entry
  const maxSizePerMsg = 60; // two entries fit, three do not
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { maxSizePerMsg } });
  const a = c.elect("a");
  const heal = c.isolate("c");
  for (let i = 0; i < 7; i++) c.propose("a", `${data.slice(0, 9)}${i}`);
  heal();
  const mark = c.traffic.length;
  c.tick(2);
  const apps = appsTo(c.traffic.slice(mark), "c");
  t.true(apps.length >= 4, `${apps.length} messages for 7 entries`);
  for (const m of apps) {
    const bytes = m.entries.reduce((s, e) => s + entrySize(e), 0);
    t.true(m.entries.length === 1 || bytes <= maxSizePerMsg, `${m.entries.length} entries, ${bytes} bytes`);
    t.true(m.entries.length <= 2);
  }
  t.true(
    apps.some((m) => m.entries.length === 2),
    "messages are filled up to the limit",
  );
  t.deepEqual(c.node("c").logIds(), a.logIds());
});

test("Flow control: an entry larger than maxSizePerMsg is still sent, alone", (t) => {
  const c = new Cluster({ voters: ["a", "b"], tuning: { maxSizePerMsg: 1 } });
  const a = c.elect("a");
  const heal = c.isolate("b");
  c.propose("a", "x".repeat(100));
  c.propose("a", "y".repeat(100));
  heal();
  const mark = c.traffic.length;
  c.tick(2);
  const apps = appsTo(c.traffic.slice(mark), "b");
  t.true(apps.length >= 2);
  t.true(apps.every((m) => m.entries.length === 1));
  t.deepEqual(c.node("b").logIds(), a.logIds());
});

test("Flow control: in probe state, one append is outstanding per heartbeat interval", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  c.dropIf((m) => m.to === "b");
  a.raw.reportUnreachable("b");
  t.is(a.status().progress.get("b")!.state, "probe");
  const mark = c.traffic.length;
  for (let i = 0; i < 4; i++) c.propose("a", `p${i}`);
  t.is(appsTo(c.traffic.slice(mark), "b").length, 1, "one probe, then wait");
  a.raw.reportUnreachable("b"); // no effect outside replicate state
  t.is(a.status().progress.get("b")!.state, "probe");
});

test("Flow control: a heartbeat response frees a slot of a full window whose appends were lost", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { maxInflightMsgs: 1 } });
  const a = c.elect("a");
  const cut = c.dropIf((m) => m.to === "b" && m.type === "app");
  c.propose("a", "p0"); // fills b's window; the append is lost
  c.propose("a", "p1");
  cut();
  const mark = c.traffic.length;
  a.tick();
  c.stabilize();
  t.true(appsTo(c.traffic.slice(mark), "b").length > 0, "the leader sends to b again");
  t.deepEqual(c.node("b").appliedData(), ["p0", "p1"]);
});

// ---------------------------------------------------------------- fast backtracking

test("Fast backtracking: a follower with a long divergent log is repaired in one rejection", (t) => {
  // a, c: 2..11 of term 3. b: 2..101 of term 2 (a stale leader's uncommitted tail).
  const c = new Cluster({
    voters: ["a", "b", "c"],
    perNode: {
      a: { log: Array(10).fill(3) },
      b: { log: Array(100).fill(2), term: 3 },
      c: { log: Array(10).fill(3) },
    },
    tuning: { preVote: false },
  });
  const a = c.elect("a");
  t.is(a.term, 4);
  const b = c.node("b");
  t.deepEqual(b.logIds(), a.logIds());
  t.is(b.status().lastIndex, 12);
  const rejections = c.delivered.filter((m) => m.from === "b" && m.type === "app-resp" && m.reject);
  t.is(rejections.length, 1, "one round trip to find the divergence instead of ten");
  const appsToB = c.delivered.filter((m) => m.to === "b" && m.type === "app");
  t.like(appsToB[1], { index: 1, logTerm: 1 }, "the retry starts right after the common prefix");
});

test("Fast backtracking: a follower whose stale tail has other terms is repaired by skipping whole terms", (t) => {
  // a: 2..6 term 2, 7..11 term 5. b: 2..6 term 2, 7..9 term 3, 10..59 term 4.
  const c = new Cluster({
    voters: ["a", "b", "c"],
    perNode: {
      a: { log: [...Array(5).fill(2), ...Array(5).fill(5)] },
      b: { log: [...Array(5).fill(2), ...Array(3).fill(3), ...Array(50).fill(4)], term: 5 },
      c: { log: [...Array(5).fill(2), ...Array(5).fill(5)] },
    },
    tuning: { preVote: false },
  });
  const a = c.elect("a");
  const b = c.node("b");
  t.deepEqual(b.logIds(), a.logIds());
  const rejections = c.delivered.filter((m) => m.from === "b" && m.type === "app-resp" && m.reject);
  t.true(rejections.length <= 2, `${rejections.length} rejections`);
});

test("Fast backtracking: a follower with a short log is brought up to date from its last index", (t) => {
  const c = new Cluster({
    voters: ["a", "b", "c"],
    perNode: { a: { log: Array(50).fill(2) }, b: { log: [2, 2] }, c: { log: Array(50).fill(2) } },
  });
  const a = c.elect("a");
  const b = c.node("b");
  t.deepEqual(b.logIds(), a.logIds());
  const rejections = c.delivered.filter((m) => m.from === "b" && m.type === "app-resp" && m.reject);
  t.is(rejections.length, 1);
  t.is(rejections[0]!.rejectHint, 3);
});

// Regression (raft/progress.ts, Progress.maybeDecrTo, probe branch): it once clamped
// nextIndex at 1 instead of match + 1 (etcd-io/raft clamps at pr.Match+1). A rejection
// that is duplicated or delayed by the network, and whose index happens to equal the current
// match, passes the `next - 1 === rejected` staleness check once the follower is probed again
// (next = match + 1), and moves next below match: the documented invariant `match < next`
// breaks, entries the follower has acknowledged are sent again, and when the leader's log is
// compacted past the hint, a follower that is fully caught up is sent a whole snapshot.
test("Fast backtracking: a duplicated stale rejection never moves nextIndex to or below matchIndex (no needless snapshot)", (t) => {
  // a, c: 2:1 3:1. b: 2:1. One entry per append, so b's catch-up stops exactly at index 3.
  const c = new Cluster({
    voters: ["a", "b", "c"],
    perNode: { a: { log: [1, 1] }, b: { log: [1] }, c: { log: [1, 1] } },
    tuning: { maxSizePerMsg: 1 },
  });
  const a = c.node("a");
  a.raw.campaign();
  let rejection: Message | undefined;
  for (let i = 0; i < 50; i++) {
    c.flush();
    if (c.queue.length === 0) break;
    for (const m of c.take()) {
      // keep a copy of b's first rejection (the network will deliver it twice)
      if (m.from === "b" && m.type === "app-resp" && m.reject && !rejection) rejection = m;
      // after that rejection, only b's first append (carrying index 3) gets through
      if (m.to === "b" && m.type === "app" && rejection && m.index >= 3) continue;
      c.deliver(m);
    }
  }
  t.like(rejection, { index: 3, rejectHint: 2 }, "b rejected the probe at index 3");
  t.like(a.status().progress.get("b"), { match: 3, state: "replicate" }, "then acknowledged index 3");
  t.is(a.commit, 4);
  // the leader compacts its log through index 3
  a.storage.createSnapshot(3, a.raw.confAt(3), enc("s3"));
  a.raw.reportUnreachable("b"); // b goes back to probe: next = match + 1 = 4
  a.step(rejection!); // the duplicate of the old rejection arrives late
  const pr = a.status().progress.get("b")!;
  t.true(pr.next > pr.match, `match ${pr.match} < next ${pr.next}`);
  const out = a.drain();
  t.deepEqual(
    out.filter((m) => m.type === "snap").map((m) => m.to),
    [],
    "b already has everything up to 3: no snapshot",
  );
});
