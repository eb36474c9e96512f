/**
 * Raft paper, Figure 2, "Rules for Servers / Leaders":
 * - Upon election: send initial empty AppendEntries RPCs (heartbeat) to each server; repeat
 *   during idle periods to prevent election timeouts. (Here the initial AppendEntries carries
 *   an empty entry of the new term, dissertation §6.4 / Figure 8.)
 * - If command received from client: append entry to local log, respond after entry applied.
 * - If last log index >= nextIndex for a follower: send AppendEntries with log entries starting at nextIndex.
 *   - If successful: update nextIndex and matchIndex for follower.
 *   - If AppendEntries fails because of log inconsistency: decrement nextIndex and retry.
 * - If there exists an N such that N > commitIndex, a majority of matchIndex[i] >= N, and
 *   log[N].term == currentTerm: set commitIndex = N.
 */
import test from "ava";
import type { Message } from "../../raft/index.ts";
import { Cluster, enc, ofType } from "./helpers.ts";

test("Leaders: upon election, send an initial AppendEntries carrying an empty entry of the new term to each server", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const rd = a.readies.find((r) => r.softState?.role === "leader")!;
  const apps = ofType(rd.messages, "app");
  t.deepEqual(apps.map((m) => m.to).sort(), ["b", "c"]);
  for (const m of apps) {
    t.like(m, { term: 2, index: 1, logTerm: 1 });
    t.is(m.entries.length, 1);
    t.like(m.entries[0], { index: 2, term: 2, type: "normal" });
    t.is(m.entries[0]!.data.length, 0, "an empty entry");
  }
  const last = a.log().at(-1)!;
  t.like(last, { index: 2, term: 2 });
  t.is(a.commit, 2);
});

test("Leaders: the empty entry of the new term commits the entries of earlier terms with it", (t) => {
  // a and b hold two uncommitted entries of term 1; c does not have them.
  const c = new Cluster({
    voters: ["a", "b", "c"],
    perNode: { a: { log: [1, 1] }, b: { log: [1, 1] } },
  });
  const a = c.elect("a");
  t.is(a.term, 2);
  t.deepEqual(a.logIds(), ["2:1", "3:1", "4:2"]);
  for (const n of c.nodes.values()) {
    t.deepEqual(n.logIds(), ["2:1", "3:1", "4:2"], n.id);
    t.is(n.commit, 4, n.id);
    t.deepEqual(
      n.applied.map((e) => e.index),
      [2, 3, 4],
    );
  }
});

test("Leaders: send heartbeats to each server every heartbeatTick during idle periods", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { heartbeatTick: 3, electionTick: 10 } });
  const a = c.elect("a");
  const perTick: number[] = [];
  for (let i = 0; i < 9; i++) {
    a.tick();
    const hb = ofType(a.drain(), "heartbeat");
    perTick.push(hb.length);
    if (hb.length > 0) t.deepEqual(hb.map((m) => m.to).sort(), ["b", "c"]);
    for (const m of hb) t.is(m.term, a.term);
  }
  t.deepEqual(perTick, [0, 0, 2, 0, 0, 2, 0, 0, 2]);
});

test("Leaders: a heartbeat carries min(follower's match, commit) so a follower never commits what it lacks", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  c.stop("c");
  c.propose("a", "x");
  c.propose("a", "y");
  t.is(a.commit, 4);
  a.tick();
  const hb = ofType(a.drain(), "heartbeat");
  t.is(hb.find((m) => m.to === "b")!.commit, 4);
  t.is(hb.find((m) => m.to === "c")!.commit, 2, "c only matched index 2");
});

test("Leaders: a client command is appended to the leader's log and answered (applied) only after it commits", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const hold = c.dropIf((m) => m.type === "app-resp");
  const r = a.raw.propose(enc("cmd"));
  t.deepEqual(r, { index: 3, term: 2 });
  const rd = a.processReady()!;
  t.deepEqual(
    rd.entries.map((e) => [e.index, e.term]),
    [[3, 2]],
    "appended to the leader's log (to be persisted)",
  );
  t.deepEqual(
    ofType(rd.messages, "app")
      .map((m) => m.to)
      .sort(),
    ["b", "c"],
    "replicated at once",
  );
  c.queue.push(...a.outbox.splice(0));
  c.stabilize();
  t.deepEqual(a.appliedData(), [], "no ack yet: not applied");
  hold();
  a.tick();
  c.stabilize();
  t.deepEqual(a.appliedData(), ["cmd"]);
  const applied = a.applied.find((e) => e.index === r.index)!;
  t.is(applied.term, r.term, "the committed entry is the one proposed");
});

test("Leaders: if last log index >= nextIndex for a follower, send AppendEntries with the entries starting at nextIndex", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const heal = c.isolate("c");
  for (const x of ["x", "y", "z"]) c.propose("a", x);
  t.deepEqual(c.node("c").logIds(), ["2:2"]);
  heal();
  const mark = c.delivered.length;
  a.tick();
  c.stabilize();
  const toC = c.delivered.slice(mark).filter((m) => m.type === "app" && m.to === "c" && m.entries.length > 0);
  t.true(toC.length > 0);
  const first = toC[0]!;
  t.is(first.index, 2, "prevLogIndex = nextIndex - 1 = c's match");
  t.deepEqual(
    first.entries.map((e) => e.index),
    [3, 4, 5],
  );
  t.deepEqual(c.node("c").logIds(), a.logIds());
  const pr = a.status().progress.get("c")!;
  t.is(pr.match, 5, "matchIndex updated on success");
  t.is(pr.next, 6, "nextIndex updated on success");
});

test("Leaders: if AppendEntries fails because of log inconsistency, decrement nextIndex and retry", (t) => {
  // a and b have entries 2..5 of term 2; c only has entry 2.
  const c = new Cluster({
    voters: ["a", "b", "c"],
    perNode: { a: { log: [2, 2, 2, 2] }, b: { log: [2, 2, 2, 2] }, c: { log: [2] } },
  });
  const a = c.elect("a");
  t.is(a.term, 3);
  const toC = c.delivered.filter((m) => m.to === "c" && m.type === "app");
  const fromC = c.delivered.filter((m) => m.from === "c" && m.type === "app-resp");
  t.like(toC[0], { index: 5, logTerm: 2 }, "first try at nextIndex = leader's last + 1");
  t.like(fromC[0], { reject: true, index: 5, rejectHint: 2 });
  t.like(toC[1], { index: 2, logTerm: 2 }, "retry from the follower's hint");
  t.deepEqual(
    toC[1]!.entries.map((e) => e.index),
    [3, 4, 5, 6],
  );
  t.like(fromC[1], { reject: false, index: 6 });
  t.deepEqual(c.node("c").logIds(), ["2:2", "3:2", "4:2", "5:2", "6:3"]);
  t.is(c.node("c").commit, 6);
});

test("Leaders: a follower's conflicting suffix is found through rejections and overwritten", (t) => {
  // a, b: 2:2 3:2 4:3 5:3. c: 2:2 .. 6:2 (a stale tail from an old term-2 leader).
  const c = new Cluster({
    voters: ["a", "b", "c"],
    perNode: { a: { log: [2, 2, 3, 3] }, b: { log: [2, 2, 3, 3] }, c: { log: [2, 2, 2, 2, 2], term: 3 } },
    tuning: { preVote: false },
  });
  const a = c.elect("a");
  t.is(a.term, 4);
  t.deepEqual(c.node("c").logIds(), ["2:2", "3:2", "4:3", "5:3", "6:4"]);
  const rejects = c.delivered.filter((m) => m.from === "c" && m.type === "app-resp" && m.reject);
  t.is(rejects.length, 1, "one rejection: the hint points straight at the divergence");
});

test("Leaders: commit N once a majority has matchIndex >= N and log[N] is of the current term", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c", "d", "e"] });
  const a = c.elect("a");
  c.stop("d");
  c.stop("e");
  const cut = c.isolate("c");
  c.propose("a", "x");
  t.is(a.commit, 2, "a and b: 2 of 5 is not a majority");
  cut();
  a.tick();
  c.stabilize();
  t.is(a.commit, 3, "a, b and c: 3 of 5");
  t.deepEqual(a.appliedData(), ["x"]);
});

// ---------------------------------------------------------------- Figure 8

const F8 = ["s1", "s2", "s3", "s4", "s5"];

/** Flush and deliver until quiet, passing every message through `rewrite` (null drops it). */
function stabilizeRewriting(c: Cluster, rewrite: (m: Message) => Message | null): void {
  for (let i = 0; i < 1000; i++) {
    c.flush();
    if (c.queue.length === 0) return;
    for (const m of c.take()) {
      const r = rewrite(m);
      if (r) c.deliver(r);
    }
  }
  throw new Error("did not settle");
}

/**
 * Figure 8 (a)-(c): s1 leads term 2 and replicates index 2-3 (term 2) to s2 only; s5 leads
 * term 3 with its own index 2 and crashes; s1 comes back, leads term 4 and brings the term-2
 * entries to s3, so they sit on a majority (s1, s2, s3) while its term-4 entry does not.
 */
function figure8(): Cluster {
  const c = new Cluster({ voters: F8, tuning: { preVote: false, checkQuorum: false } });
  const s1 = c.node("s1");
  // (a) s1 leads term 2; only s2 receives its entries.
  const onlyS2 = c.dropIf((m) => m.from === "s1" && m.type === "app" && m.to !== "s2");
  c.elect("s1");
  s1.raw.propose(enc("x"));
  c.stabilize();
  onlyS2();
  c.stop("s1");
  // (b) s5 leads term 3 with votes from s3, s4 (and itself), then crashes before replicating.
  const noApp = c.dropIf((m) => m.from === "s5" && m.type === "app");
  c.elect("s5");
  noApp();
  c.stop("s5");
  // (c) s1 restarts and leads term 4 (its first try at term 3 collides with s5's voters).
  c.restart("s1");
  s1.raw.campaign();
  c.stabilize();
  if (s1.status().role === "leader") throw new Error("unexpected: s1 won term 3");
  s1.raw.campaign();
  // s4 receives nothing from s1; s2 and s3 receive only entries of term 2 (the term-4 entry is "lost").
  stabilizeRewriting(c, (m) => {
    if (m.from !== "s1" || m.type !== "app") return m;
    if (m.to === "s4") return null;
    return { ...m, entries: m.entries.filter((e) => e.term < 4) };
  });
  if (s1.status().role !== "leader" || s1.term !== 4) throw new Error("setup: s1 should lead term 4");
  return c;
}

test("Leaders (Figure 8): an entry of an older term on a majority is not committed by counting replicas", (t) => {
  const c = figure8();
  const s1 = c.node("s1");
  t.deepEqual(s1.logIds(), ["2:2", "3:2", "4:4"]);
  t.deepEqual(c.node("s2").logIds(), ["2:2", "3:2"]);
  t.deepEqual(c.node("s3").logIds(), ["2:2", "3:2"]);
  t.deepEqual(c.node("s5").logIds(), ["2:3"]);
  const pr = s1.status().progress;
  t.is(pr.get("s2")!.match, 3);
  t.is(pr.get("s3")!.match, 3);
  // index 3 (term 2) is on s1, s2, s3: a majority of five. It must not be committed.
  t.is(s1.commit, 1);
  for (const n of c.nodes.values()) t.deepEqual(n.appliedData(), [], `${n.id} applied nothing`);

  // (d) Why: s1 crashes, s5 comes back and can still win (its last term 3 beats term 2),
  // overwriting index 2 and 3 everywhere. Had s1 committed "x", it would now be lost.
  c.stop("s1");
  c.restart("s5");
  const s5 = c.node("s5");
  s5.raw.campaign(); // term 4: s2-s4 already voted for s1
  c.stabilize();
  t.not(s5.role, "leader");
  s5.raw.campaign(); // term 5
  c.stabilize();
  t.is(s5.role, "leader");
  t.is(s5.term, 5);
  for (const id of ["s2", "s3", "s4", "s5"]) {
    t.deepEqual(c.node(id).logIds(), ["2:3", "3:5"], id);
    t.is(c.node(id).commit, 3);
    t.deepEqual(c.node(id).appliedData(), [], `${id} never applied the overwritten "x"`);
  }
  c.restart("s1");
  s5.tick();
  c.stabilize();
  t.deepEqual(s1.logIds(), ["2:3", "3:5"], "s1's term-2 entries are overwritten too");
});

test("Leaders (Figure 8): once an entry of the current term is on a majority, it commits the older entries before it", (t) => {
  const c = figure8();
  const s1 = c.node("s1");
  t.is(s1.commit, 1);
  // (e) s1 now replicates its term-4 entry to s2 and s3.
  s1.tick();
  c.stabilize();
  t.is(s1.commit, 4);
  for (const id of ["s1", "s2", "s3"]) {
    t.deepEqual(c.node(id).appliedData(), ["x"], id);
  }
  // Now s5 can no longer win: a majority has a more up-to-date log.
  c.stop("s1");
  c.restart("s5");
  const s5 = c.node("s5");
  for (let i = 0; i < 3; i++) {
    s5.raw.campaign();
    c.stabilize();
    t.not(s5.role, "leader");
  }
});
