/**
 * ReadOnlyQueue: the leader's pending ReadIndex requests.
 */
import test from "ava";
import { ReadOnlyQueue } from "../../raft/read-only.ts";

test("ReadOnlyQueue: a read starts acknowledged by the leader itself; acks accumulate per context", (t) => {
  const q = new ReadOnlyQueue();
  q.add({ index: 5, context: "r1", from: "a" }, "a");
  t.deepEqual([...(q.ack("r1", "b") ?? [])].sort(), ["a", "b"]);
  t.deepEqual([...(q.ack("r1", "b") ?? [])].sort(), ["a", "b"], "a duplicate ack counts once");
  t.is(q.ack("unknown", "b"), undefined);
});

test("ReadOnlyQueue: a retried context is not queued twice", (t) => {
  const q = new ReadOnlyQueue();
  q.add({ index: 5, context: "r1", from: "a" }, "a");
  q.add({ index: 9, context: "r1", from: "a" }, "a");
  const released = q.releaseThrough("r1");
  t.is(released.length, 1);
  t.is(released[0]!.index, 5, "the first request's index is kept");
});

test("ReadOnlyQueue: releaseThrough releases in arrival order up to and including the context", (t) => {
  const q = new ReadOnlyQueue();
  q.add({ index: 1, context: "r1", from: "a" }, "a");
  q.add({ index: 2, context: "r2", from: "b" }, "a");
  q.add({ index: 3, context: "r3", from: "a" }, "a");
  t.is(q.lastContext(), "r3");
  t.deepEqual(
    q.releaseThrough("r2").map((r) => r.context),
    ["r1", "r2"],
  );
  t.deepEqual(q.releaseThrough("r2"), [], "already released");
  t.deepEqual(q.releaseThrough("nope"), []);
  t.is(q.lastContext(), "r3");
  q.reset();
  t.is(q.lastContext(), undefined);
  t.deepEqual(q.releaseThrough("r3"), []);
});
