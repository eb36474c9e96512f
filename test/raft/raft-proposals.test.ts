/**
 * Proposals beyond the single entry: batches (group commit), and a leader that is removing
 * itself (dissertation §4.2.2: it keeps managing the cluster until the removal commits,
 * without counting itself in majorities).
 */
import test from "ava";
import { LeaderTransferringError, NotLeaderError } from "../../raft/index.ts";
import { Cluster, enc, msg, newNode, ofType } from "./helpers.ts";

test("proposeMany: a batch is appended at consecutive indexes and replicated in one append per follower", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const mark = c.traffic.length;
  const r = a.raw.proposeMany([enc("x"), enc("y"), enc("z")]);
  t.deepEqual(r, { index: 5, term: 2 }, "the index of the last entry");
  c.stabilize();
  const apps = c.traffic.slice(mark).filter((m) => m.type === "app" && m.entries.length > 0);
  t.deepEqual(apps.map((m) => m.to).sort(), ["b", "c"]);
  for (const m of apps) {
    t.deepEqual(
      m.entries.map((e) => e.index),
      [3, 4, 5],
    );
  }
  for (const n of c.nodes.values()) t.deepEqual(n.appliedData(), ["x", "y", "z"], n.id);
});

test("proposeMany: an empty batch appends nothing and returns the last index", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  t.deepEqual(a.raw.proposeMany([]), { index: 2, term: 2 });
  t.false(a.raw.hasReady());
});

test("proposeMany: refused off the leader and during a transfer, like propose", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const err = t.throws(() => c.node("b").raw.proposeMany([enc("x")]), { instanceOf: NotLeaderError });
  t.is(err?.leader, "a");
  c.isolate("b");
  a.raw.transferLeader("b");
  t.throws(() => a.raw.proposeMany([enc("x")]), { instanceOf: LeaderTransferringError });
});

test("A leader removing itself keeps taking proposals until the removal commits, without counting itself", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  c.stop("c");
  const removal = a.raw.proposeConfChange({ type: "remove", node: "a" });
  c.stabilize();
  t.deepEqual(a.status().conf.voters, ["b", "c"], "in force at once on the leader");
  // a and b have it: 2 of the old 3, but only 1 of the new {b, c} since a no longer counts
  t.is(a.role, "leader");
  t.true(a.commit < removal.index);
  const x = a.raw.propose(enc("x"));
  t.is(x.index, removal.index + 1, "still accepted");
  c.stabilize();
  t.true(a.commit < removal.index);
  // c comes back: b and c make the new majority; the removal commits and a steps down
  c.restart("c");
  a.tick();
  c.stabilize();
  t.true(a.commit >= x.index);
  t.is(a.role, "follower");
  t.deepEqual(a.appliedData(), ["x"]);
  // b and c elect a leader among themselves and apply x as well
  c.tick(60);
  const leaders = c.leaders();
  t.is(leaders.length, 1);
  t.not(leaders[0]!.id, "a");
  t.deepEqual(c.node("b").appliedData(), ["x"]);
  t.deepEqual(c.node("c").appliedData(), ["x"]);
});

test("A candidate ignores responses and requests meant for a leader", (t) => {
  const a = newNode("a", { voters: ["a", "b", "c"], tuning: { preVote: false } });
  a.raw.campaign();
  a.drain();
  for (const type of ["app-resp", "heartbeat-resp", "read-index", "timeout-now"] as const) {
    a.step(msg({ type, from: "b", to: "a", term: 2, index: 5 }));
  }
  t.is(a.role, "candidate");
  t.is(a.term, 2);
  t.deepEqual(ofType(a.drain(), "app"), []);
  t.false(a.raw.hasReady());
});
