/**
 * Raft paper, Figure 2, "Rules for Servers / Candidates":
 * - On conversion to candidate, start election: increment currentTerm, vote for self, reset
 *   election timer, send RequestVote RPCs to all other servers.
 * - If votes received from a majority of servers: become leader.
 * - If AppendEntries RPC received from new leader: convert to follower.
 * - If election timeout elapses: start new election.
 */
import test from "ava";
import { Cluster, msg, newNode, ofType } from "./helpers.ts";

const FIVE = ["a", "b", "c", "d", "e"];

test("Candidates: on conversion, increment currentTerm, vote for self and send RequestVote to every other voter", (t) => {
  const a = newNode("a", { voters: FIVE, learners: ["f"], log: [1, 1], tuning: { preVote: false } });
  a.raw.campaign();
  const rd = a.processReady();
  t.truthy(rd);
  t.is(a.role, "candidate");
  t.deepEqual(rd!.hardState, { term: 2, vote: "a", commit: 1 });
  const votes = ofType(rd!.messages, "vote");
  t.deepEqual(votes.map((m) => m.to).sort(), ["b", "c", "d", "e"], "all other voters, not the learner");
  for (const m of votes) {
    t.like(m, { from: "a", term: 2, index: 3, logTerm: 1, context: "" });
  }
});

test("Candidates: if votes received from a majority of servers, become leader (and not before)", (t) => {
  const a = newNode("a", { voters: FIVE, tuning: { preVote: false } });
  a.raw.campaign();
  a.drain();
  a.step(msg({ type: "vote-resp", from: "b", to: "a", term: 2 }));
  t.is(a.role, "candidate", "2 of 5");
  // a duplicate grant from the same voter does not count twice
  a.step(msg({ type: "vote-resp", from: "b", to: "a", term: 2 }));
  t.is(a.role, "candidate", "still 2 of 5");
  a.step(msg({ type: "vote-resp", from: "c", to: "a", term: 2, reject: true }));
  t.is(a.role, "candidate", "2 yes, 1 no");
  a.step(msg({ type: "vote-resp", from: "d", to: "a", term: 2 }));
  t.is(a.role, "leader", "3 of 5");
  t.is(a.term, 2);
  t.is(a.leader, "a");
});

test("Candidates: if a majority rejects, give up and return to follower", (t) => {
  const a = newNode("a", { voters: ["a", "b", "c"], tuning: { preVote: false } });
  a.raw.campaign();
  a.step(msg({ type: "vote-resp", from: "b", to: "a", term: 2, reject: true }));
  t.is(a.role, "candidate");
  a.step(msg({ type: "vote-resp", from: "c", to: "a", term: 2, reject: true }));
  t.is(a.role, "follower");
  t.is(a.term, 2, "the term stays");
  t.is(a.vote, "a", "and so does the vote cast in it");
});

test("Candidates: if AppendEntries received from the new leader of the same term, convert to follower", (t) => {
  const a = newNode("a", { voters: ["a", "b", "c"], tuning: { preVote: false } });
  a.raw.campaign();
  t.is(a.role, "candidate");
  a.drain();
  a.step(msg({ type: "app", from: "b", to: "a", term: 2, index: 1, logTerm: 1, entries: [] }));
  t.is(a.role, "follower");
  t.is(a.leader, "b");
  t.is(a.term, 2);
  const out = a.drain();
  t.like(ofType(out, "app-resp", "b")[0], { reject: false, term: 2 });
});

test("Candidates: a heartbeat from the new leader of the same term also converts a candidate to follower", (t) => {
  const a = newNode("a", { voters: ["a", "b", "c"], tuning: { preVote: false } });
  a.raw.campaign();
  a.step(msg({ type: "heartbeat", from: "c", to: "a", term: 2 }));
  t.is(a.role, "follower");
  t.is(a.leader, "c");
});

test("Candidates: an AppendEntries from an older term does not make a candidate follow", (t) => {
  const a = newNode("a", { voters: ["a", "b", "c"], term: 3, tuning: { preVote: false } });
  a.raw.campaign();
  t.is(a.term, 4);
  a.step(msg({ type: "app", from: "b", to: "a", term: 3, index: 1, logTerm: 1 }));
  t.is(a.role, "candidate");
  t.is(a.term, 4);
  // the stale leader is told the newer term
  const resp = ofType(a.drain(), "app-resp", "b");
  t.is(resp.length, 1);
  t.is(resp[0]!.term, 4);
});

test("Candidates: if the election timeout elapses, start a new election in the next term", (t) => {
  const electionTick = 10;
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { preVote: false, electionTick } });
  const a = c.node("a");
  c.isolate("a"); // nobody answers
  a.raw.campaign();
  c.stabilize();
  t.is(a.role, "candidate");
  t.is(a.term, 2);
  let ticks = 0;
  while (a.term === 2 && ticks < 3 * electionTick) {
    a.tick();
    ticks++;
  }
  t.is(a.term, 3, "a new election");
  t.is(a.role, "candidate");
  t.true(ticks >= electionTick && ticks < 2 * electionTick, `after ${ticks} ticks`);
  const votes = ofType(a.drain(), "vote");
  t.deepEqual(votes.map((m) => [m.to, m.term]).sort(), [
    ["b", 3],
    ["c", 3],
  ]);
  c.heal();
  c.queue.push(...votes); // send the new requests
  c.stabilize();
  t.is(a.role, "leader");
  t.is(a.term, 3);
});

test("Candidates: with pre-vote, a candidate whose election times out runs a pre-vote round before bumping its term again", (t) => {
  const a = newNode("a", { voters: ["a", "b", "c"] });
  a.raw.campaign();
  a.step(msg({ type: "prevote-resp", from: "b", to: "a", term: 2 }));
  t.is(a.role, "candidate");
  t.is(a.term, 2);
  a.drain();
  a.tick(20);
  t.is(a.role, "pre-candidate");
  t.is(a.term, 2, "no new term without a won pre-vote");
  const out = a.drain();
  t.true(ofType(out, "prevote").every((m) => m.term === 3));
  t.is(ofType(out, "prevote").length, 2);
});

test("Candidates: a single-voter cluster elects itself at once", (t) => {
  const a = newNode("a", { voters: ["a"] });
  a.raw.campaign();
  t.is(a.role, "leader");
  t.is(a.term, 2);
  t.deepEqual(a.drain(), [], "nobody to ask");
});
