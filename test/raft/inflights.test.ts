/**
 * Inflights: the window of unacknowledged append messages to one follower.
 */
import test from "ava";
import { Inflights } from "../../raft/inflights.ts";

test("Inflights: full once maxCount messages are in flight", (t) => {
  const f = new Inflights(3, 0);
  t.false(f.full());
  f.add(5, 10);
  f.add(7, 10);
  t.false(f.full());
  t.is(f.count(), 2);
  f.add(9, 10);
  t.true(f.full());
  t.is(f.count(), 3);
});

test("Inflights: full once maxBytes are in flight (0 means no byte limit)", (t) => {
  const f = new Inflights(100, 50);
  f.add(1, 20);
  f.add(2, 20);
  t.false(f.full(), "40 < 50");
  f.add(3, 10);
  t.true(f.full(), "50 >= 50");
  const unlimited = new Inflights(100, 0);
  unlimited.add(1, 1_000_000);
  t.false(unlimited.full());
});

test("Inflights: freeLE frees every message whose last index is <= the acknowledged index", (t) => {
  const f = new Inflights(3, 45);
  f.add(5, 15);
  f.add(7, 15);
  f.add(9, 15);
  t.true(f.full());
  f.freeLE(4);
  t.is(f.count(), 3, "nothing acknowledged");
  f.freeLE(7);
  t.is(f.count(), 1);
  t.false(f.full(), "count and bytes freed");
  f.add(11, 15);
  f.add(13, 15);
  t.true(f.full());
  f.freeLE(100);
  t.is(f.count(), 0);
  // the bytes were released too: 30 < 45
  f.add(14, 15);
  f.add(15, 15);
  t.false(f.full());
});

test("Inflights: freeFirstOne frees exactly the oldest message", (t) => {
  const f = new Inflights(2, 0);
  f.freeFirstOne(); // no-op when empty
  t.is(f.count(), 0);
  f.add(3, 1);
  f.add(4, 1);
  t.true(f.full());
  f.freeFirstOne();
  t.is(f.count(), 1);
  t.false(f.full());
  f.freeLE(3);
  t.is(f.count(), 1, "index 3 was already freed; 4 is still in flight");
  f.freeLE(4);
  t.is(f.count(), 0);
});

test("Inflights: reset empties the window and its byte count", (t) => {
  const f = new Inflights(2, 10);
  f.add(1, 10);
  t.true(f.full());
  f.reset();
  t.is(f.count(), 0);
  t.false(f.full());
  f.add(2, 9);
  t.false(f.full());
});
