/**
 * Raft paper, Figure 2, "Rules for Servers / Followers":
 * - Respond to RPCs from candidates and leaders.
 * - If election timeout elapses without receiving AppendEntries from the current leader or
 *   granting a vote to a candidate: convert to candidate.
 * (With pre-vote, a pre-vote round comes first; the term only moves once it is won.)
 */
import test from "ava";
import { Cluster, msg, newNode, ofType } from "./helpers.ts";

test("Followers: respond to AppendEntries from the leader", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"], term: 2 });
  b.step(msg({ type: "app", from: "a", to: "b", term: 2, index: 1, logTerm: 1, entries: [] }));
  const out = b.drain();
  t.is(out.length, 1);
  t.like(out[0], { type: "app-resp", from: "b", to: "a", term: 2, reject: false, index: 1 });
  t.is(b.leader, "a");
});

test("Followers: respond to heartbeats from the leader", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"], term: 2 });
  b.step(msg({ type: "heartbeat", from: "a", to: "b", term: 2, context: "ctx" }));
  const out = b.drain();
  t.is(out.length, 1);
  t.like(out[0], { type: "heartbeat-resp", from: "b", to: "a", term: 2, context: "ctx" });
});

test("Followers: respond to RequestVote from candidates", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"] });
  b.step(msg({ type: "vote", from: "c", to: "b", term: 2, index: 1, logTerm: 1 }));
  const out = b.drain();
  t.is(out.length, 1);
  t.like(out[0], { type: "vote-resp", from: "b", to: "c", term: 2, reject: false });
});

test("Followers: election timeout without contact starts a pre-vote round first; the term is unchanged until it is won", (t) => {
  const electionTick = 10;
  const b = newNode("b", { voters: ["a", "b", "c"], tuning: { electionTick } });
  let ticks = 0;
  while (b.role === "follower" && ticks < 3 * electionTick) {
    b.tick();
    ticks++;
  }
  t.is(b.role, "pre-candidate");
  // randomized timeout in [electionTick, 2 * electionTick)
  t.true(ticks >= electionTick && ticks < 2 * electionTick, `campaigned after ${ticks} ticks`);
  t.is(b.term, 1, "a pre-candidate does not bump its term");
  t.is(b.vote, "", "nor vote");
  const out = b.drain();
  const pre = ofType(out, "prevote");
  t.deepEqual(pre.map((m) => m.to).sort(), ["a", "c"]);
  for (const m of pre) t.is(m.term, 2, "pre-vote asks for the term it would campaign in");
  t.is(ofType(out, "vote").length, 0);
  t.false(
    b.readies.some((rd) => rd.hardState !== undefined && rd.hardState.term !== 1),
    "no term change persisted",
  );

  // the pre-vote is won: now a real candidate at term 2
  b.step(msg({ type: "prevote-resp", from: "a", to: "b", term: 2 }));
  t.is(b.role, "candidate");
  t.is(b.term, 2);
  t.is(b.vote, "b");
  t.deepEqual(
    ofType(b.drain(), "vote")
      .map((m) => m.to)
      .sort(),
    ["a", "c"],
  );
});

test("Followers: with preVote off, election timeout makes a follower a candidate of the next term at once", (t) => {
  const electionTick = 5;
  const b = newNode("b", { voters: ["a", "b", "c"], tuning: { electionTick, preVote: false } });
  let ticks = 0;
  while (b.role === "follower" && ticks < 3 * electionTick) {
    b.tick();
    ticks++;
  }
  t.is(b.role, "candidate");
  t.true(ticks >= electionTick && ticks < 2 * electionTick);
  t.is(b.term, 2);
  t.is(b.vote, "b");
  const out = b.drain();
  t.deepEqual(
    ofType(out, "vote")
      .map((m) => m.to)
      .sort(),
    ["a", "c"],
  );
  t.is(ofType(out, "prevote").length, 0);
});

test("Followers: a follower that keeps hearing from its leader never starts an election", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const term = a.term;
  c.tick(10 * 10); // 10 election timeouts, leader heartbeats every tick
  t.is(a.role, "leader");
  t.is(a.term, term);
  for (const id of ["b", "c"]) {
    t.is(c.node(id).role, "follower");
    t.is(c.node(id).leader, "a");
  }
  t.is(
    c.delivered.filter((m) => m.type === "prevote" || m.type === "vote").length,
    2 * 2, // the pre-votes and votes of the first election only
  );
});

test("Followers: granting a vote resets the election timer", (t) => {
  const electionTick = 10;
  // b is at term 2 with no leader and no vote: a vote request of the same term does not change
  // its term, so only the grant itself can reset the timer.
  const b = newNode("b", { voters: ["a", "b", "c"], term: 2, tuning: { electionTick, preVote: false } });
  for (let round = 0; round < 6; round++) {
    b.tick(electionTick - 1);
    t.is(b.role, "follower", `round ${round}`);
    // a retransmitted request from the candidate it already voted for is granted again
    b.step(msg({ type: "vote", from: "a", to: "b", term: 2, index: 1, logTerm: 1 }));
    t.is(b.vote, "a");
    t.is(b.term, 2);
  }
  // 54 ticks (> 2 * electionTick) without a campaign; once the grants stop, it campaigns
  b.tick(2 * electionTick);
  t.is(b.role, "candidate");
  t.is(b.term, 3);
});

test("Followers: a learner never starts an election", (t) => {
  const d = newNode("d", { voters: ["a", "b", "c"], learners: ["d"] });
  d.tick(100);
  t.is(d.role, "follower");
  t.is(d.term, 1);
  t.deepEqual(d.drain(), []);
  d.raw.campaign();
  t.is(d.role, "follower", "campaign() is a no-op on a learner");
});
