/**
 * The refusal log's rate limit (src/auth/refusal-log.ts), on a fake clock: one line per key
 * per interval, the count of what was not logged in the next line, keys apart, memory bounded.
 */
import test from "ava";
import { MAX_KEYS, RefusalLog } from "../../../src/auth/refusal-log.ts";

test("one line per key per minute, saying how many were not logged", (t) => {
  let now = 0;
  const log = new RefusalLog({ now: () => now });
  t.is(log.admit("reader/g KvPut"), 0, "the first is logged");
  t.is(log.admit("reader/g KvPut"), null);
  now = 59_999;
  t.is(log.admit("reader/g KvPut"), null);
  t.is(log.admit("reader/g Drain"), 0, "another method is another key");
  t.is(log.admit("member/m1 KvPut"), 0, "another identity is another key");
  now = 60_000;
  t.is(log.admit("reader/g KvPut"), 2, "a minute later: logged, with the two not logged");
  t.is(log.admit("reader/g KvPut"), null);
});

test("the interval is configurable", (t) => {
  let now = 0;
  const log = new RefusalLog({ now: () => now, intervalMs: 10 });
  t.is(log.admit("k"), 0);
  now = 10;
  t.is(log.admit("k"), 0);
});

test("memory stays bounded: old keys go first", (t) => {
  let now = 0;
  const log = new RefusalLog({ now: () => now });
  for (let i = 0; i < MAX_KEYS + 100; i++) log.admit(`peer-${i}`);
  t.true(log.size <= MAX_KEYS);
  t.is(log.admit(`peer-${MAX_KEYS + 99}`), null, "a recent key is still held");
  now = 120_000;
  log.admit("new");
  t.true(log.size <= MAX_KEYS);
});
