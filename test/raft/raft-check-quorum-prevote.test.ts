/**
 * The election extensions of the dissertation (§6.2, §9.6): check-quorum, the leader lease
 * that makes voters ignore disruptive vote requests, and pre-vote.
 */
import test from "ava";
import { Cluster, enc, msg, newNode, ofType } from "./helpers.ts";

const ELECTION = 10;

test("Check-quorum: a leader that hears from no quorum for an election timeout steps down", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { electionTick: ELECTION } });
  const a = c.elect("a");
  c.isolate("a");
  let ticks = 0;
  while (a.role === "leader" && ticks < 5 * ELECTION) {
    a.tick();
    ticks++;
  }
  t.is(a.role, "follower");
  t.is(a.leader, null);
  t.is(a.term, 2, "stepping down does not change the term");
  // one check-quorum round may still count the activity seen before the cut
  t.true(ticks >= ELECTION && ticks <= 2 * ELECTION, `stepped down after ${ticks} ticks`);
  t.throws(() => a.raw.propose(enc("x")), { name: "NotLeaderError" });
});

test("Check-quorum: a leader in contact with a quorum (but not everyone) stays leader", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c", "d", "e"], tuning: { electionTick: ELECTION } });
  const a = c.elect("a");
  c.stop("d");
  c.stop("e");
  c.tick(10 * ELECTION);
  t.is(a.role, "leader");
  t.is(a.term, 2);
});

test("Check-quorum: with checkQuorum off, an isolated leader keeps believing it leads", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { electionTick: ELECTION, checkQuorum: false } });
  const a = c.elect("a");
  c.isolate("a");
  a.tick(10 * ELECTION);
  t.is(a.role, "leader");
});

test("Leader lease: a follower that recently heard from its leader ignores a higher-term vote request", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { electionTick: ELECTION } });
  c.elect("a");
  const b = c.node("b");
  c.tick(1);
  b.step(msg({ type: "vote", from: "c", to: "b", term: 9, index: 99, logTerm: 2 }));
  t.is(b.term, 2, "term not adopted");
  t.is(b.vote, "a", "vote unchanged");
  t.is(b.leader, "a");
  t.deepEqual(b.drain(), [], "not even a rejection is sent");
  // same for a pre-vote
  b.step(msg({ type: "prevote", from: "c", to: "b", term: 9, index: 99, logTerm: 2 }));
  t.deepEqual(b.drain(), []);
});

test("Leader lease: once the lease has expired, the same request is granted", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { electionTick: ELECTION } });
  c.elect("a");
  const b = c.node("b");
  c.isolate("b");
  // b hears nothing for an election timeout (its own randomized timeout may start a
  // pre-vote meanwhile; that does not change its term)
  b.tick(ELECTION);
  b.drain();
  b.step(msg({ type: "vote", from: "c", to: "b", term: 9, index: 99, logTerm: 2 }));
  t.is(b.term, 9);
  t.is(b.vote, "c");
  t.false(ofType(b.drain(), "vote-resp")[0]!.reject);
});

test("Leader lease: a leadership-transfer vote request is not ignored", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { electionTick: ELECTION } });
  c.elect("a");
  const b = c.node("b");
  c.tick(1);
  b.step(msg({ type: "vote", from: "c", to: "b", term: 3, index: 99, logTerm: 2, context: "transfer" }));
  t.is(b.term, 3);
  t.is(b.vote, "c");
});

test("Leader lease: a node that cannot hear the leader (asymmetric partition) cannot depose it with vote requests", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { electionTick: ELECTION, preVote: false } });
  const a = c.elect("a");
  // c receives nothing from a, but its own messages go through
  c.dropIf((m) => m.from === "a" && m.to === "c");
  const mark = c.delivered.length;
  c.tick(10 * ELECTION);
  const requests = c.delivered.slice(mark).filter((m) => m.type === "vote" && m.from === "c");
  t.true(requests.length > 0, "c's vote requests did reach a and b");
  t.true(requests.every((m) => m.term > 2));
  t.is(a.role, "leader");
  t.is(a.term, 2, "the cluster's term was not raised by c");
  t.is(c.node("b").term, 2);
  t.is(c.node("b").leader, "a");
});

test("Pre-vote: a partitioned node that rejoins does not raise the cluster's term", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { electionTick: ELECTION } });
  const a = c.elect("a");
  const heal = c.isolate("c");
  c.tick(10 * ELECTION);
  const cNode = c.node("c");
  t.is(cNode.term, 2, "pre-vote rounds that nobody answers leave the term alone");
  t.true(
    cNode.sent.some((s) => s.message.type === "prevote"),
    "c did try to campaign",
  );
  t.false(cNode.sent.some((s) => s.message.type === "vote"));
  heal();
  c.tick(3 * ELECTION);
  t.is(a.role, "leader");
  t.is(a.term, 2);
  t.is(cNode.role, "follower");
  t.is(cNode.leader, "a");
  c.propose("a", "after");
  t.deepEqual(cNode.appliedData(), ["after"]);
});

test("Pre-vote: without pre-vote, the same rejoin does raise the cluster's term (control)", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { electionTick: ELECTION, preVote: false } });
  c.elect("a");
  const heal = c.isolate("c");
  c.tick(10 * ELECTION);
  t.true(c.node("c").term > 2);
  heal();
  c.tick(3 * ELECTION);
  const leaders = c.leaders();
  t.is(leaders.length, 1);
  t.true(leaders[0]!.term > 2, "the disruption forced a new election");
});

test("Pre-vote: a pre-vote is refused by a voter whose log is more up to date", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { electionTick: ELECTION } });
  c.elect("a");
  c.stop("c");
  c.propose("a", "x");
  // a and b now have entry 3; c does not. Restart c and let a and b lose their leader.
  c.stop("a");
  c.restart("c");
  c.tick(4 * ELECTION, ["b", "c"]);
  t.is(c.node("b").role, "leader", "only b can win");
  t.true(c.node("c").sent.some((s) => s.message.type === "prevote"));
  t.true(
    c.delivered.some((m) => m.type === "prevote-resp" && m.to === "c" && m.reject),
    "b refused c's pre-vote",
  );
});

test("Pre-vote: a pre-vote of a lower term is refused, which makes the pre-candidate follow the higher term", (t) => {
  const a = newNode("a", { voters: ["a", "b", "c"] });
  a.raw.campaign();
  t.is(a.role, "pre-candidate");
  a.step(msg({ type: "prevote-resp", from: "b", to: "a", term: 5, reject: true }));
  t.is(a.role, "follower");
  t.is(a.term, 5);
});

test("Pre-vote: a pre-candidate that loses the pre-vote returns to follower without changing its term", (t) => {
  const a = newNode("a", { voters: ["a", "b", "c"] });
  a.raw.campaign();
  a.step(msg({ type: "prevote-resp", from: "b", to: "a", term: 1, reject: true }));
  a.step(msg({ type: "prevote-resp", from: "c", to: "a", term: 1, reject: true }));
  t.is(a.role, "follower");
  t.is(a.term, 1);
});
