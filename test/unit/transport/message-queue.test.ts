/**
 * MessageQueue: FIFO order across its head compaction, and drain empties it.
 */
import test from "ava";
import { message } from "../../../raft/index.ts";
import { MessageQueue } from "../../../src/transport/message-queue.ts";

const hb = (term: number) => message({ type: "heartbeat", from: "a", to: "b", term });

test("shift returns messages in push order, across compactions of the head", (t) => {
  const q = new MessageQueue();
  t.is(q.shift(), undefined);
  for (let i = 1; i <= 5000; i++) q.push(hb(i));
  const seen: number[] = [];
  // Interleave pushes so the queue is never empty when the head passes 1024.
  for (let i = 5001; i <= 6000; i++) {
    seen.push(q.shift()!.term, q.shift()!.term);
    q.push(hb(i));
  }
  t.is(q.length, 6000 - seen.length);
  for (let m = q.shift(); m; m = q.shift()) seen.push(m.term);
  t.deepEqual(
    seen,
    Array.from({ length: 6000 }, (_, i) => i + 1),
  );
  t.is(q.length, 0);
});

test("drain removes and returns everything still queued, in order", (t) => {
  const q = new MessageQueue();
  for (let i = 1; i <= 4; i++) q.push(hb(i));
  q.shift();
  t.deepEqual(
    q.drain().map((m) => m.term),
    [2, 3, 4],
  );
  t.is(q.length, 0);
  t.is(q.shift(), undefined);
});
