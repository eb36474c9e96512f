/**
 * RawNode: the Ready / advance contract and usage errors.
 */
import test from "ava";
import { MemoryStorage, RaftUsageError, RawNode, SeededRng } from "../../raft/index.ts";
import { Cluster, enc, msg, newNode } from "./helpers.ts";

test("RawNode: ready() twice without advance() is a usage error; so is advance() without ready()", (t) => {
  const a = newNode("a", { voters: ["a"] });
  t.throws(() => a.raw.advance(), { instanceOf: RaftUsageError });
  a.raw.campaign();
  a.raw.ready();
  t.throws(() => a.raw.ready(), { instanceOf: RaftUsageError, message: /before advance/ });
  a.raw.advance();
  t.throws(() => a.raw.advance(), { instanceOf: RaftUsageError });
});

test("RawNode: stepping a message addressed to another node is a usage error", (t) => {
  const a = newNode("a", { voters: ["a", "b"] });
  const err = t.throws(() => a.step(msg({ type: "heartbeat", from: "b", to: "c", term: 1 })), {
    instanceOf: RaftUsageError,
  });
  t.regex(err?.message ?? "", /for c stepped into a/);
});

test("RawNode: electionTick must exceed heartbeatTick, both positive", (t) => {
  const storage = new MemoryStorage({ conf: { voters: ["a"], learners: [] } });
  const rng = new SeededRng(1);
  t.throws(() => new RawNode({ id: "a", storage, rng, electionTick: 3, heartbeatTick: 3 }), {
    instanceOf: RaftUsageError,
  });
  t.throws(() => new RawNode({ id: "a", storage, rng, heartbeatTick: 0 }), { instanceOf: RaftUsageError });
  t.notThrows(() => new RawNode({ id: "a", storage, rng }));
});

test("RawNode: an idle node has no Ready; a role change produces a softState once", (t) => {
  const a = newNode("a", { voters: ["a", "b", "c"] });
  t.false(a.raw.hasReady());
  a.raw.campaign();
  t.true(a.raw.hasReady());
  const rd = a.raw.ready();
  t.deepEqual(rd.softState, { leader: null, role: "pre-candidate" });
  t.is(rd.hardState, undefined, "a pre-vote changes no hard state");
  a.raw.advance();
  t.false(a.raw.hasReady());
});

test("RawNode: messages, entries and committed entries are handed out exactly once", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  a.raw.propose(enc("once"));
  const rd1 = a.raw.ready();
  t.is(rd1.entries.length, 1);
  t.is(rd1.messages.length, 2);
  a.storage.append(rd1.entries);
  a.raw.advance();
  t.false(a.raw.hasReady());
  // acks commit the entry; it is handed out once
  for (const m of rd1.messages) c.deliver(m);
  c.flush();
  c.deliverAll();
  c.stabilize();
  const committed = a.readies.flatMap((r) => r.committedEntries).filter((e) => e.data.length > 0);
  t.deepEqual(
    committed.map((e) => e.index),
    [3],
  );
});

test("RawNode: status() shows leader progress only on the leader", (t) => {
  const c = new Cluster({ voters: ["a", "b", "c"] });
  const a = c.elect("a");
  const st = a.status();
  t.is(st.id, "a");
  t.deepEqual([...st.progress.keys()].sort(), ["a", "b", "c"]);
  t.like(st.progress.get("b"), { match: 2, next: 3, state: "replicate", learner: false, recentActive: true });
  t.is(c.node("b").status().progress.size, 0);
  t.is(a.raw.id, "a");
});
