/**
 * Raft paper, Figure 2, "State / Persistent state on all servers (updated on stable storage
 * before responding to RPCs)": currentTerm, votedFor, log[].
 *
 * Here that is the Ready contract: the hard state (term, vote, commit) and the entries of a
 * Ready are persisted before its messages are sent. A node restarted from its storage must
 * keep its term and vote (and so never vote twice in one term) and its log.
 */
import test from "ava";
import { Cluster, enc, msg, newNode, ofType, type SentRecord } from "./helpers.ts";

test("Persistence: a granted vote's term and votedFor are in the hard state of the Ready that carries the grant", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"] });
  b.step(msg({ type: "vote", from: "a", to: "b", term: 2, index: 1, logTerm: 1 }));
  const rd = b.raw.ready();
  t.deepEqual(rd.hardState, { term: 2, vote: "a", commit: 1 });
  t.deepEqual(
    rd.messages.map((m) => [m.type, m.to, m.reject]),
    [["vote-resp", "a", false]],
  );
  b.raw.advance();
  t.false(b.raw.hasReady(), "nothing left once advanced");
});

test("Persistence: a candidate's new term and self-vote are in the hard state of the Ready that carries its requests", (t) => {
  const a = newNode("a", { voters: ["a", "b", "c"], tuning: { preVote: false } });
  a.raw.campaign();
  const rd = a.raw.ready();
  t.deepEqual(rd.hardState, { term: 2, vote: "a", commit: 1 });
  t.is(ofType(rd.messages, "vote").length, 2);
});

test("Persistence: appended entries are in the Ready that carries their acknowledgement", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"], term: 2 });
  const e = { index: 2, term: 2, type: "normal" as const, data: enc("x") };
  b.step(msg({ type: "app", from: "a", to: "b", term: 2, index: 1, logTerm: 1, entries: [e] }));
  const rd = b.raw.ready();
  t.deepEqual(
    rd.entries.map((x) => x.index),
    [2],
  );
  t.like(ofType(rd.messages, "app-resp")[0], { index: 2, reject: false });
});

/** Check, for every message sent, that what it depends on was on disk when it was sent. */
function checkPersistedBeforeSend(records: readonly SentRecord[]): string[] {
  const problems: string[] = [];
  for (const { message: m, hardState: hs, lastIndex } of records) {
    const tag = `${m.type} ${m.from}->${m.to} t${m.term}`;
    if (m.type !== "prevote" && m.type !== "prevote-resp" && hs.term < m.term) {
      problems.push(`${tag}: persisted term ${hs.term}`);
    }
    if (m.type === "vote" && (hs.vote !== m.from || hs.term !== m.term)) {
      problems.push(`${tag}: persisted vote ${hs.vote}@${hs.term}`);
    }
    if (m.type === "vote-resp" && !m.reject && (hs.vote !== m.to || hs.term !== m.term)) {
      problems.push(`${tag}: persisted vote ${hs.vote}@${hs.term}`);
    }
    if (m.type === "app-resp" && !m.reject && m.index > lastIndex) {
      problems.push(`${tag}: acks ${m.index} with last persisted ${lastIndex}`);
    }
  }
  return problems;
}

test("Persistence: throughout elections, replication, partitions and restarts, no message is sent before its state is persisted", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c", "d", "e"] });
  c.elect("a");
  for (let i = 0; i < 5; i++) c.propose("a", `p${i}`);
  const heal = c.isolate("a");
  c.tick(40, ["b", "c", "d", "e"]);
  const l2 = c.leaders().find((n) => n.id !== "a")!;
  t.truthy(l2, "a new leader among the majority");
  c.propose(l2.id, "q");
  heal();
  c.tick(3);
  c.stop("b");
  c.restart("b");
  c.tick(30);
  const leader = c.leaders()[0]!;
  c.propose(leader.id, "r");
  const records = [...c.nodes.values()].flatMap((n) => n.sent);
  t.true(records.length > 100);
  t.true(
    records.some((r) => r.message.type === "vote-resp" && !r.message.reject),
    "votes were granted",
  );
  t.deepEqual(checkPersistedBeforeSend(records), []);
  for (const n of c.nodes.values()) t.deepEqual(n.appliedData().slice(-1), ["r"], n.id);
});

test("Persistence: a node restarted from its storage keeps its term and vote", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"] });
  b.step(msg({ type: "vote", from: "a", to: "b", term: 5, index: 1, logTerm: 1 }));
  b.drain();
  t.deepEqual(b.storage.hardState(), { term: 5, vote: "a", commit: 1 });
  b.restart();
  t.is(b.term, 5);
  t.is(b.vote, "a");
  t.is(b.role, "follower");
  t.false(b.raw.hasReady(), "a restart does not re-emit the persisted hard state");
});

test("Persistence: a restarted node does not vote twice in one term", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"] });
  b.step(msg({ type: "vote", from: "a", to: "b", term: 5, index: 1, logTerm: 1 }));
  b.drain();
  b.restart();
  b.step(msg({ type: "vote", from: "c", to: "b", term: 5, index: 1, logTerm: 1 }));
  const out = ofType(b.drain(), "vote-resp");
  t.is(out.length, 1);
  t.true(out[0]!.reject, "c is refused: b already voted for a in term 5");
  t.is(b.vote, "a");
  // the candidate it voted for may still collect its (retransmitted) vote
  b.step(msg({ type: "vote", from: "a", to: "b", term: 5, index: 1, logTerm: 1 }));
  t.false(ofType(b.drain(), "vote-resp")[0]!.reject);
});

test("Persistence: a restarted node keeps its log and commit index, and re-applies from its snapshot", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  c.elect("a");
  c.propose("a", "x");
  c.propose("a", "y");
  const b = c.node("b");
  const log = b.logIds();
  const commit = b.commit;
  c.stop("b");
  c.restart("b");
  t.deepEqual(b.logIds(), log);
  t.is(b.commit, commit);
  t.is(b.status().applied, 1, "applied restarts at the snapshot index");
  b.drain();
  t.deepEqual(b.appliedData(), ["x", "y"], "the committed entries are handed out again to rebuild state");
});

test("Persistence: with `applied` given at restart, already applied entries are not handed out again", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  c.elect("a");
  c.propose("a", "x");
  c.propose("a", "y");
  const b = c.node("b");
  const applied = b.status().applied;
  t.is(applied, 4);
  c.restart("b", { applied });
  t.is(b.status().applied, 4);
  b.drain();
  t.deepEqual(b.appliedData(), []);
  c.tick(1);
  c.propose("a", "z");
  t.deepEqual(b.appliedData(), ["z"]);
});

test("Persistence: a restarted leader comes back as a follower of its term and rejoins", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  c.propose("a", "x");
  c.restart("a");
  t.is(a.role, "follower");
  t.is(a.term, 2);
  t.is(a.leader, null);
  c.tick(30);
  t.is(c.leaders().length, 1);
  const leader = c.leaders()[0]!;
  c.propose(leader.id, "y");
  t.deepEqual(a.appliedData(), ["x", "y"]);
});

test("Persistence: a storage whose hard state commit is beyond its log is refused", (t) => {
  t.throws(() => newNode("b", { voters: ["a", "b"], log: [2], commit: 5 }), { name: "RaftUsageError" });
});
