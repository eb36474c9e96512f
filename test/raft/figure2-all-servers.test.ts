/**
 * Raft paper, Figure 2, "Rules for Servers / All Servers":
 * - If commitIndex > lastApplied: increment lastApplied, apply log[lastApplied] to the state machine.
 * - If an RPC request or response contains term T > currentTerm: set currentTerm = T, convert to follower.
 */
import test from "ava";
import { Cluster, enc, msg, newNode, ofType } from "./helpers.ts";

test("All servers: if commitIndex > lastApplied, committed entries are applied in log order, each once", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  c.elect("a");
  for (const x of ["x1", "x2", "x3", "x4"]) c.propose("a", x);
  for (const n of c.nodes.values()) {
    t.deepEqual(n.appliedData(), ["x1", "x2", "x3", "x4"], `${n.id} applied`);
    const idx = n.applied.map((e) => e.index);
    // consecutive, starting right after the bootstrap snapshot (index 1), no gap and no repeat
    t.deepEqual(
      idx,
      idx.map((_, i) => i + 2),
      `${n.id} applied indexes`,
    );
    t.is(n.status().applied, n.commit, `${n.id} applied == commit`);
    t.is(n.commit, 6);
  }
});

test("All servers: an entry is applied only once it is committed (never from an uncommitted log)", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  c.elect("a");
  const a = c.node("a");
  const cut = c.dropIf((m) => m.from === "a");
  a.raw.propose(enc("pending"));
  c.stabilize();
  // The leader persisted the entry but no follower acknowledged it: nothing to apply.
  t.is(a.log().at(-1)?.index, 3);
  t.is(a.commit, 2);
  t.deepEqual(a.appliedData(), []);
  for (const rd of a.readies) {
    for (const e of rd.committedEntries) t.true(e.index <= 2, "no committed entry beyond commit");
  }
  cut();
  c.tick(1); // heartbeat: followers ask for the missing entry
  t.is(a.commit, 3);
  t.deepEqual(a.appliedData(), ["pending"]);
  t.deepEqual(c.node("b").appliedData(), ["pending"]);
});

test("All servers: committed entries are applied in several Readies when maxCommittedSizePerReady is small", (t) => {
  const c = new Cluster({ voters: ["a"], tuning: { maxCommittedSizePerReady: 1 } });
  const a = c.elect("a");
  // a single voter commits at once: the three entries are committed before the next Ready
  for (const x of ["p", "q", "r"]) a.raw.propose(enc(x));
  t.is(a.commit, 5);
  c.stabilize();
  t.deepEqual(a.appliedData(), ["p", "q", "r"]);
  const batches = a.readies.map((rd) => rd.committedEntries.length).filter((n) => n > 0);
  t.true(
    batches.every((n) => n === 1),
    `each Ready carries one entry: ${batches.join(",")}`,
  );
});

test("All servers: a follower that sees a higher term in an AppendEntries adopts it and follows the sender", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"], term: 2, vote: "b" });
  b.step(msg({ type: "app", from: "c", to: "b", term: 5, index: 1, logTerm: 1 }));
  t.is(b.term, 5);
  t.is(b.role, "follower");
  t.is(b.leader, "c");
  t.is(b.vote, "", "the vote of the old term does not carry over");
});

test("All servers: a leader that sees a higher term in a response steps down to follower", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const term = a.term;
  a.step(msg({ type: "app-resp", from: "b", to: "a", term: term + 3, index: 0 }));
  t.is(a.role, "follower");
  t.is(a.term, term + 3);
  t.is(a.leader, null);
  t.throws(() => a.raw.propose(enc("x")), { name: "NotLeaderError" });
});

test("All servers: a candidate that sees a higher term in a vote response steps down to follower", (t) => {
  const a = newNode("a", { voters: ["a", "b", "c"], tuning: { preVote: false } });
  a.raw.campaign();
  t.is(a.role, "candidate");
  t.is(a.term, 2);
  a.step(msg({ type: "vote-resp", from: "b", to: "a", term: 7, reject: true }));
  t.is(a.role, "follower");
  t.is(a.term, 7);
  t.is(a.vote, "");
});

test("All servers: a heartbeat from a higher term makes a leader follow the sender", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  a.step(msg({ type: "heartbeat", from: "c", to: "a", term: a.term + 1 }));
  t.is(a.role, "follower");
  t.is(a.leader, "c");
  const resp = ofType(a.drain(), "heartbeat-resp", "c");
  t.is(resp.length, 1);
  t.is(resp[0]!.term, 3);
});

test("All servers: a granted pre-vote carries a higher term but does not make the pre-candidate adopt it", (t) => {
  // Pre-vote responses carry the future term; they must not bump anyone's term by themselves.
  const a = newNode("a", { voters: ["a", "b", "c", "d", "e"] });
  a.raw.campaign();
  t.is(a.role, "pre-candidate");
  t.is(a.term, 1);
  a.step(msg({ type: "prevote-resp", from: "b", to: "a", term: 2 }));
  t.is(a.role, "pre-candidate", "2 of 5 is not a majority yet");
  t.is(a.term, 1, "term unchanged by a granted pre-vote");
  a.step(msg({ type: "prevote-resp", from: "c", to: "a", term: 2 }));
  t.is(a.role, "candidate");
  t.is(a.term, 2);
});
