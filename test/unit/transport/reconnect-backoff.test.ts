/**
 * ReconnectBackoff: the delay doubles up to its bound, is jittered to 50-100%, resets when a
 * stream is accepted, and only the first failure in a row (then one in 30) is loud.
 */
import test from "ava";
import { ReconnectBackoff } from "../../../src/transport/reconnect-backoff.ts";

test("each failure waits a jittered delay that doubles up to the bound", (t) => {
  const b = new ReconnectBackoff(50, 400);
  t.false(b.waiting(performance.now()));
  const bounds = [50, 100, 200, 400, 400, 400];
  for (const max of bounds) {
    const before = performance.now();
    const delay = b.failed();
    const after = performance.now();
    t.true(delay >= max / 2 && delay <= max, `delay ${delay} within [${max / 2}, ${max}]`);
    t.true(b.waiting(before));
    t.false(b.waiting(after + max));
  }
});

test("an accepted stream resets the delay and says whether it had been failing", (t) => {
  const b = new ReconnectBackoff(50, 2000);
  t.false(b.succeeded());
  for (let i = 0; i < 5; i++) b.failed();
  t.true(b.succeeded());
  t.true(b.failed() <= 50);
});

test("the first failure in a row is loud, then one in 30", (t) => {
  const b = new ReconnectBackoff(1, 1);
  const loud: number[] = [];
  for (let n = 1; n <= 61; n++) {
    b.failed();
    if (b.loud) loud.push(n);
  }
  t.deepEqual(loud, [1, 30, 60]);
  b.succeeded();
  b.failed();
  t.true(b.loud);
});
