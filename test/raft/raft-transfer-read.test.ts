/**
 * Leadership transfer (dissertation §3.10) and ReadIndex (§6.4), plus the errors a node
 * raises for requests it cannot serve.
 */
import test from "ava";
import { LeaderTransferringError, NotLeaderError } from "../../raft/index.ts";
import { Cluster, dec, enc, newNode, ofType } from "./helpers.ts";

const ELECTION = 10;

// ---------------------------------------------------------------- leadership transfer

test("Leadership transfer: the target becomes leader of the next term", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { electionTick: ELECTION } });
  const a = c.elect("a");
  c.propose("a", "x");
  a.raw.transferLeader("b");
  c.stabilize();
  const b = c.node("b");
  t.is(b.role, "leader");
  t.is(b.term, 3);
  t.is(a.role, "follower");
  t.is(a.leader, "b");
  t.true(
    c.delivered.some((m) => m.type === "timeout-now" && m.from === "a" && m.to === "b"),
    "a told b to campaign",
  );
  t.true(
    c.delivered.some((m) => m.type === "vote" && m.from === "b" && m.context === "transfer"),
    "b campaigned without pre-vote, marked as a transfer so that the lease does not block it",
  );
  c.propose("b", "y");
  t.deepEqual(c.node("c").appliedData(), ["x", "y"]);
});

test("Leadership transfer: proposals are refused with LeaderTransferringError while the target catches up", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { electionTick: ELECTION } });
  const a = c.elect("a");
  const heal = c.isolate("b");
  c.propose("a", "x");
  a.raw.transferLeader("b");
  t.is(a.status().leadTransferee, "b");
  const err = t.throws(() => a.raw.propose(enc("refused")), { instanceOf: LeaderTransferringError });
  t.is(err?.transferee, "b");
  t.throws(() => a.raw.proposeConfChange({ type: "add-learner", node: "d" }), {
    instanceOf: LeaderTransferringError,
  });
  heal();
  c.tick(1, ["a"]);
  c.stabilize();
  const b = c.node("b");
  t.is(b.role, "leader");
  t.deepEqual(b.appliedData(), ["x"], "the target was brought up to date first");
  t.false(b.log().some((e) => dec(e.data) === "refused"));
});

test("Leadership transfer: a transfer that does not finish within an election timeout is abandoned", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], tuning: { electionTick: ELECTION } });
  const a = c.elect("a");
  c.isolate("b");
  a.raw.transferLeader("b");
  c.tick(ELECTION - 1, ["a", "c"]);
  t.is(a.status().leadTransferee, "b");
  c.tick(1, ["a", "c"]);
  t.is(a.status().leadTransferee, null);
  t.is(a.role, "leader");
  t.notThrows(() => a.raw.propose(enc("accepted again")));
});

test("Leadership transfer: to itself is a no-op; to a non-voter is a usage error; off the leader is NotLeaderError", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"], learners: ["d"] });
  const a = c.elect("a");
  a.raw.transferLeader("a");
  t.is(a.status().leadTransferee, null);
  t.throws(() => a.raw.transferLeader("d"), { name: "RaftUsageError" });
  t.throws(() => a.raw.transferLeader("zz"), { name: "RaftUsageError" });
  const err = t.throws(() => c.node("b").raw.transferLeader("c"), { instanceOf: NotLeaderError });
  t.is(err?.leader, "a");
});

test("Leadership transfer: repeating the request does not send a second timeout-now", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const hold = c.dropIf((m) => m.type === "timeout-now");
  a.raw.transferLeader("b");
  a.raw.transferLeader("b");
  c.stabilize();
  t.is(c.dropped.filter((m) => m.type === "timeout-now").length, 1);
  hold();
});

// ---------------------------------------------------------------- ReadIndex

test("ReadIndex: the leader releases a ReadState only after a quorum has acknowledged a heartbeat carrying it", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c", "d", "e"] });
  const a = c.elect("a");
  const commit = a.commit;
  a.raw.readIndex("r1");
  c.flush();
  t.deepEqual(a.readStates, []);
  const hbs = c.take((m) => m.type === "heartbeat");
  t.deepEqual(hbs.map((m) => m.to).sort(), ["b", "c", "d", "e"]);
  t.true(hbs.every((m) => m.context === "r1"));
  // b acknowledges: a + b = 2 of 5
  c.deliver(hbs.find((m) => m.to === "b")!);
  c.flush();
  for (const m of c.take()) c.deliver(m);
  c.flush();
  t.deepEqual(a.readStates, [], "2 of 5 is not a quorum");
  // c acknowledges: 3 of 5
  c.deliver(hbs.find((m) => m.to === "c")!);
  c.flush();
  for (const m of c.take()) c.deliver(m);
  c.flush();
  t.deepEqual(a.readStates, [{ index: commit, context: "r1" }]);
  // the late acknowledgements change nothing
  c.deliver(hbs.find((m) => m.to === "d")!);
  c.stabilize();
  t.is(a.readStates.length, 1);
});

test("ReadIndex: the read index is the commit index when the read arrived, not when it is confirmed", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const at = a.commit;
  const hold = c.dropIf((m) => m.type === "heartbeat-resp");
  a.raw.readIndex("r");
  c.stabilize();
  c.propose("a", "later");
  t.true(a.commit > at);
  hold();
  a.tick(); // heartbeats carry the pending read again
  c.stabilize();
  t.deepEqual(a.readStates, [{ index: at, context: "r" }]);
});

test("ReadIndex: confirming a later read also releases the earlier ones, in order", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const drop = c.dropIf((m) => m.type === "heartbeat" && m.context === "r1");
  a.raw.readIndex("r1");
  c.stabilize();
  drop();
  a.raw.readIndex("r2");
  c.stabilize();
  t.deepEqual(
    a.readStates.map((r) => r.context),
    ["r1", "r2"],
  );
});

test("ReadIndex: a follower's read is forwarded to the leader and answered with the leader's commit index", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  c.propose("a", "x");
  const b = c.node("b");
  b.raw.readIndex("fr");
  c.stabilize();
  t.true(c.delivered.some((m) => m.type === "read-index" && m.from === "b" && m.to === "a"));
  t.true(c.delivered.some((m) => m.type === "read-index-resp" && m.to === "b"));
  t.deepEqual(b.readStates, [{ index: a.commit, context: "fr" }]);
  t.deepEqual(a.readStates, [], "the leader does not hand the follower's read to its own application");
});

test("ReadIndex: a new leader holds reads until it has committed an entry of its term", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.node("a");
  const hold = c.dropIf((m) => m.type === "app-resp");
  c.elect("a");
  t.is(a.commit, 1, "the empty entry of term 2 is not committed yet");
  a.raw.readIndex("early");
  const out = a.drain();
  t.false(
    out.some((m) => m.type === "heartbeat" && m.context === "early"),
    "no confirmation round yet",
  );
  hold();
  a.tick();
  c.stabilize();
  t.is(a.commit, 2);
  t.deepEqual(a.readStates, [{ index: 2, context: "early" }]);
});

test("ReadIndex: a single-voter leader answers at once", (t) => {
  const a = newNode("a", { voters: ["a"] });
  a.raw.campaign();
  a.drain();
  a.raw.readIndex("solo");
  a.drain();
  t.deepEqual(a.readStates, [{ index: 2, context: "solo" }]);
});

test("ReadIndex: a node that knows no leader refuses with NotLeaderError(null)", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"] });
  const err = t.throws(() => b.raw.readIndex("x"), { instanceOf: NotLeaderError });
  t.is(err?.leader, null);
  b.raw.campaign();
  t.is(b.role, "pre-candidate");
  t.throws(() => b.raw.readIndex("x"), { instanceOf: NotLeaderError });
});

// ---------------------------------------------------------------- NotLeaderError

test("NotLeaderError: a follower refuses proposals and names the leader it knows", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  c.elect("a");
  const b = c.node("b");
  const err = t.throws(() => b.raw.propose(enc("x")), { instanceOf: NotLeaderError });
  t.is(err?.leader, "a");
  t.is(err?.name, "NotLeaderError");
  t.regex(err?.message ?? "", /\ba\b/);
  const err2 = t.throws(() => b.raw.proposeConfChange({ type: "add-learner", node: "d" }), {
    instanceOf: NotLeaderError,
  });
  t.is(err2?.leader, "a");
});

test("NotLeaderError: a node that knows no leader says so", (t) => {
  const b = newNode("b", { voters: ["a", "b", "c"] });
  const err = t.throws(() => b.raw.propose(enc("x")), { instanceOf: NotLeaderError });
  t.is(err?.leader, null);
  t.regex(err?.message ?? "", /no leader/);
  t.is(ofType(b.drain(), "app").length, 0);
});
