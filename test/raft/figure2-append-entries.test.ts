/**
 * Raft paper, Figure 2, "AppendEntries RPC / Receiver implementation":
 * 1. Reply false if term < currentTerm.
 * 2. Reply false if log doesn't contain an entry at prevLogIndex whose term matches prevLogTerm.
 * 3. If an existing entry conflicts with a new one (same index but different terms), delete
 *    the existing entry and all that follow it.
 * 4. Append any new entries not already in the log.
 * 5. If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new entry).
 */
import test from "ava";
import type { Entry, Message } from "../../raft/index.ts";
import { Cluster, enc, ent, msg, newNode, ofType, type TestNode } from "./helpers.ts";

/** A follower b at term 3 whose log is 2:2 3:2 4:3, commit 1. */
function follower(): TestNode {
  return newNode("b", { voters: ["a", "b", "c"], log: [2, 2, 3], term: 3 });
}

function app(term: number, index: number, logTerm: number, entries: Entry[] = [], commit = 0): Message {
  return msg({ type: "app", from: "a", to: "b", term, index, logTerm, entries, commit });
}

function reply(b: TestNode): Message {
  const out = ofType(b.drain(), "app-resp", "a");
  if (out.length !== 1) throw new Error(`expected one app-resp, got ${out.length}`);
  return out[0]!;
}

test("AppendEntries: reply false if term < currentTerm; the reply carries the higher term", (t) => {
  const b = follower();
  b.step(app(2, 4, 3, [ent(5, 2)], 5));
  const r = reply(b);
  t.is(r.term, 3, "the stale leader learns the newer term");
  t.deepEqual(b.logIds(), ["2:2", "3:2", "4:3"], "nothing appended");
  t.is(b.commit, 1, "nothing committed");
  t.is(b.leader, null, "the stale sender is not taken as leader");
});

test("AppendEntries: a stale leader that gets the higher-term reply steps down", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const heal = c.isolate("a");
  c.tick(40, ["b", "c"]); // b and c time out and elect a new leader among themselves
  const newLeader = c.leaders().find((n) => n.id !== "a")!;
  t.truthy(newLeader);
  t.true(newLeader.term > a.term);
  t.is(a.role, "leader", "a has not noticed yet");
  heal();
  a.raw.propose(enc("lost")); // a still believes it leads
  c.stabilize();
  t.is(a.role, "follower");
  t.is(a.term, newLeader.term);
  t.is(c.leaders().length, 1);
  t.deepEqual(a.appliedData(), [], "the stale proposal never commits");
});

test("AppendEntries: reply false if the log has no entry at prevLogIndex", (t) => {
  const b = follower();
  b.step(app(3, 6, 3, [ent(7, 3)], 7));
  const r = reply(b);
  t.true(r.reject);
  t.is(r.index, 6, "names the rejected prevLogIndex");
  t.is(r.rejectHint, 4, "hints at its last index");
  t.deepEqual(b.logIds(), ["2:2", "3:2", "4:3"]);
  t.is(b.commit, 1);
});

test("AppendEntries: reply false if the entry at prevLogIndex has a different term than prevLogTerm", (t) => {
  const b = follower();
  b.step(app(3, 4, 2, [ent(5, 3)], 5));
  const r = reply(b);
  t.true(r.reject);
  t.is(r.index, 4);
  // our largest index whose term is <= 2 is 3: the leader may probe from there
  t.is(r.rejectHint, 3);
  t.is(r.logTerm, 2);
  t.deepEqual(b.logIds(), ["2:2", "3:2", "4:3"]);
  t.is(b.commit, 1);
});

test("AppendEntries: a conflicting entry and all that follow it are deleted", (t) => {
  const b = follower();
  b.step(app(4, 2, 2, [ent(3, 4)], 0));
  const r = reply(b);
  t.false(r.reject);
  t.is(r.index, 3);
  t.deepEqual(b.logIds(), ["2:2", "3:4"], "3:2 replaced, 4:3 deleted");
  t.is(b.status().lastIndex, 3);
});

test("AppendEntries: entries already present are not deleted by a stale (shorter) AppendEntries", (t) => {
  const b = follower();
  b.step(app(3, 2, 2, [ent(3, 2)], 0));
  const r = reply(b);
  t.false(r.reject);
  t.is(r.index, 3, "acknowledges what the message covered");
  t.deepEqual(b.logIds(), ["2:2", "3:2", "4:3"], "4:3 does not conflict and stays");
});

test("AppendEntries: new entries not already in the log are appended", (t) => {
  const b = follower();
  b.step(app(3, 3, 2, [ent(4, 3), ent(5, 3), ent(6, 3)], 0));
  const r = reply(b);
  t.false(r.reject);
  t.is(r.index, 6);
  t.deepEqual(b.logIds(), ["2:2", "3:2", "4:3", "5:3", "6:3"]);
  t.is(b.readies.at(-1)!.entries.length, 2, "only the two new entries are handed out for persistence");
});

test("AppendEntries: commitIndex = min(leaderCommit, index of last new entry)", (t) => {
  const b = follower();
  // b has index 4, but this message only vouches for entries up to 3
  b.step(app(3, 2, 2, [ent(3, 2)], 4));
  b.drain();
  t.is(b.commit, 3, "not 4: entry 4 is not known to match the leader's");
  t.deepEqual(
    b.applied.map((e) => e.index),
    [2, 3],
  );
  b.step(app(3, 4, 3, [ent(5, 3)], 4));
  b.drain();
  t.is(b.commit, 4, "leaderCommit below the last new entry");
  b.step(app(3, 5, 3, [], 5));
  b.drain();
  t.is(b.commit, 5);
});

test("AppendEntries: commitIndex never moves backwards", (t) => {
  const b = follower();
  b.step(app(3, 4, 3, [], 4));
  b.drain();
  t.is(b.commit, 4);
  b.step(app(3, 4, 3, [], 2));
  b.drain();
  t.is(b.commit, 4);
});

test("AppendEntries: a message behind the follower's commit index is answered with the commit index", (t) => {
  const b = follower();
  b.step(app(3, 4, 3, [], 4));
  b.drain();
  b.step(app(3, 2, 2, [ent(3, 2)], 3)); // reordered old message
  const r = reply(b);
  t.false(r.reject);
  t.is(r.index, 4);
  t.deepEqual(b.logIds(), ["2:2", "3:2", "4:3"]);
});

test("AppendEntries: a heartbeat advances commit only up to the follower's last index", (t) => {
  const b = follower();
  b.step(msg({ type: "heartbeat", from: "a", to: "b", term: 3, commit: 9 }));
  b.drain();
  t.is(b.commit, 4);
});
