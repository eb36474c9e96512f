/**
 * Single-server membership changes with learners (dissertation §4.1, §4.2.1): one change at a
 * time, allowed only once the leader has committed an entry of its term, effective on each
 * node as soon as the entry is in its log.
 */
import test from "ava";
import { ConfChangeRefusedError, encodeConfChange } from "../../raft/index.ts";
import { Cluster, ent, msg, newNode } from "./helpers.ts";

test("Membership: a learner is added, catches up through the bootstrap snapshot, and does not count in the quorum", (t) => {
  const c = new Cluster({ voters: ["a", "b"], joiners: ["d"] });
  const a = c.elect("a");
  c.propose("a", "x");
  const { index } = a.raw.proposeConfChange({ type: "add-learner", node: "d" });
  c.stabilize();
  t.true(a.commit >= index);
  t.deepEqual(a.status().conf, { voters: ["a", "b"], learners: ["d"] });
  const d = c.node("d");
  t.is(d.snapshots.length, 1, "d started from the snapshot at index 1");
  t.deepEqual(d.logIds(), a.logIds());
  t.deepEqual(d.appliedData(), ["x"]);
  t.deepEqual(d.status().conf, { voters: ["a", "b"], learners: ["d"] });
  t.true(a.status().progress.get("d")!.learner);

  // With b down, a and d would be 2 of 3 if d counted; as a learner it does not.
  c.stop("b");
  const y = c.propose("a", "y");
  t.is(a.status().progress.get("d")!.match, y.index, "d has the entry");
  t.true(a.commit < y.index, "but a learner is not part of the quorum");
  t.deepEqual(d.appliedData(), ["x"]);
  // and it never campaigns, however long it hears nothing
  c.tick(50, ["d"]);
  t.is(d.role, "follower");
  // b comes back: y commits, and reaches d
  c.restart("b");
  a.tick();
  c.stabilize();
  t.true(a.commit >= y.index);
  t.deepEqual(d.appliedData(), ["x", "y"]);
});

test("Membership: a promoted learner counts in the quorum", (t) => {
  const c = new Cluster({ voters: ["a", "b"], joiners: ["d"] });
  const a = c.elect("a");
  a.raw.proposeConfChange({ type: "add-learner", node: "d" });
  c.stabilize();
  a.raw.proposeConfChange({ type: "promote", node: "d" });
  c.stabilize();
  t.deepEqual(a.status().conf, { voters: ["a", "b", "d"], learners: [] });
  t.deepEqual(c.node("d").status().conf, { voters: ["a", "b", "d"], learners: [] });
  t.false(a.status().progress.get("d")!.learner);

  // Three voters: with b down and d cut off, a alone is not a quorum...
  c.stop("b");
  const cut = c.isolate("d");
  const z = c.propose("a", "z");
  t.true(a.commit < z.index);
  // ...and d's acknowledgement is what commits the entry (a and d: 2 of 3).
  cut();
  c.tick(1);
  t.true(a.commit >= z.index);
  t.deepEqual(c.node("d").appliedData(), ["z"]);
  // d may now campaign and win
  c.stop("a");
  c.restart("b");
  c.tick(60, ["b", "d"]);
  t.is(c.leaders().length, 1);
  t.not(c.leaders()[0]!.id, "a");
});

test("Membership: a voter added directly joins the quorum as soon as the change is in the leader's log", (t) => {
  const c = new Cluster({ voters: ["a"], joiners: ["b"] });
  const a = c.elect("a");
  const cut = c.isolate("b");
  const cc = a.raw.proposeConfChange({ type: "add-voter", node: "b" });
  c.stabilize();
  t.deepEqual(a.status().conf.voters, ["a", "b"]);
  t.true(a.commit < cc.index, "the change itself needs b's acknowledgement now");
  cut();
  a.tick();
  c.stabilize();
  t.true(a.commit >= cc.index);
  t.deepEqual(c.node("b").logIds(), a.logIds());
});

test("Membership: removing a voter shrinks the quorum and stops replication to it", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const { index } = a.raw.proposeConfChange({ type: "remove", node: "c" });
  c.stabilize();
  t.true(a.commit >= index);
  t.deepEqual(a.status().conf, { voters: ["a", "b"], learners: [] });
  t.false(a.status().progress.has("c"));
  c.stop("c");
  const mark = c.traffic.length;
  const x = c.propose("a", "x");
  a.tick(3);
  c.stabilize();
  t.true(a.commit >= x.index, "a and b: 2 of 2");
  const later = c.traffic.slice(mark);
  t.false(
    later.some((m) => m.to === "c"),
    "nothing is sent to the removed node",
  );
});

test("Membership: a leader that removes itself steps down once the change commits, and no longer campaigns", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const { index } = a.raw.proposeConfChange({ type: "remove", node: "a" });
  c.stabilize();
  t.true(a.commit >= index);
  t.is(a.role, "follower");
  t.is(a.leader, null);
  c.tick(60);
  t.true(c.node("b").commit >= index);
  t.is(a.role, "follower");
  const leaders = c.leaders();
  t.is(leaders.length, 1);
  t.not(leaders[0]!.id, "a");
  t.deepEqual(leaders[0]!.status().conf.voters, ["b", "c"]);
});

test("Membership: a second change while one is pending is refused with ConfChangeRefusedError", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  c.stop("b");
  c.stop("c");
  const first = a.raw.proposeConfChange({ type: "add-learner", node: "d" });
  const err = t.throws(() => a.raw.proposeConfChange({ type: "add-learner", node: "e" }), {
    instanceOf: ConfChangeRefusedError,
  });
  t.regex(err?.reason ?? "", /pending/);
  t.regex(err?.reason ?? "", new RegExp(String(first.index)));
  t.deepEqual(a.status().conf.learners, ["d"], "the refused change left no trace");
  // once the first commits, the next one is accepted
  c.restart("b");
  c.restart("c");
  a.tick();
  c.stabilize();
  t.notThrows(() => a.raw.proposeConfChange({ type: "add-learner", node: "e" }));
});

test("Membership: a change before the leader has committed an entry of its term is refused", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const hold = c.dropIf((m) => m.type === "app-resp");
  const a = c.elect("a");
  const err = t.throws(() => a.raw.proposeConfChange({ type: "add-learner", node: "d" }), {
    instanceOf: ConfChangeRefusedError,
  });
  t.regex(err?.reason ?? "", /not yet committed an entry of its term/);
  hold();
  a.tick();
  c.stabilize();
  t.notThrows(() => a.raw.proposeConfChange({ type: "add-learner", node: "d" }));
});

test("Membership: changes that do not apply are refused with the reason", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], learners: ["l"] });
  const a = c.elect("a");
  const cases = [
    [{ type: "add-learner", node: "b" }, /b is already a member/],
    [{ type: "add-voter", node: "l" }, /l is already a member/],
    [{ type: "promote", node: "b" }, /b is not a learner/],
    [{ type: "remove", node: "zz" }, /zz is not a member/],
  ] as const;
  for (const [cc, reason] of cases) {
    const err = t.throws(() => a.raw.proposeConfChange(cc), { instanceOf: ConfChangeRefusedError });
    t.regex(err?.message ?? "", reason);
  }
  const lastIndex = a.status().lastIndex;
  t.is(lastIndex, 2, "nothing was appended");
});

test("Membership: a configuration takes effect when appended and is reverted when its entry is truncated", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"], term: 2 });
  const conf = {
    index: 2,
    term: 2,
    type: "conf" as const,
    data: encodeConfChange({ type: "add-learner", node: "d" }),
  };
  b.step(msg({ type: "app", from: "a", to: "b", term: 2, index: 1, logTerm: 1, entries: [conf] }));
  b.drain();
  t.is(b.commit, 1, "not committed");
  t.deepEqual(b.status().conf.learners, ["d"], "in force as soon as it is in the log");
  t.deepEqual(b.raw.confAt(1).learners, [], "confAt before the entry");
  t.deepEqual(b.raw.confAt(2).learners, ["d"], "confAt at the entry");
  // a new leader of term 3 overwrites index 2
  b.step(msg({ type: "app", from: "c", to: "b", term: 3, index: 1, logTerm: 1, entries: [ent(2, 3)] }));
  b.drain();
  t.deepEqual(b.logIds(), ["2:3"]);
  t.deepEqual(b.status().conf.learners, [], "reverted with the truncated entry");
});

test("Membership: a node restarted with a conf entry in its log uses that configuration", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], joiners: ["d"] });
  const a = c.elect("a");
  a.raw.proposeConfChange({ type: "add-learner", node: "d" });
  c.stabilize();
  c.restart("b");
  t.deepEqual(c.node("b").status().conf, { voters: ["a", "b", "c"], learners: ["d"] });
  c.restart("d");
  t.deepEqual(c.node("d").status().conf, { voters: ["a", "b", "c"], learners: ["d"] });
});
