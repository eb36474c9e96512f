/**
 * SeededRng: reproducible randomness for election jitter and simulations.
 */
import test from "ava";
import { SeededRng } from "../../raft/index.ts";

test("SeededRng: the same seed gives the same sequence; another seed another", (t) => {
  const seq = (seed: number) => {
    const r = new SeededRng(seed);
    return Array.from({ length: 20 }, () => r.int(1000));
  };
  t.deepEqual(seq(42), seq(42));
  t.notDeepEqual(seq(42), seq(43));
});

test("SeededRng: int(n) stays in [0, n), next() in [0, 1)", (t) => {
  const r = new SeededRng(7);
  const seen = new Set<number>();
  for (let i = 0; i < 2000; i++) {
    const x = r.int(10);
    t.true(Number.isInteger(x) && x >= 0 && x < 10);
    seen.add(x);
    const f = r.next();
    t.true(f >= 0 && f < 1);
  }
  t.is(seen.size, 10, "every value is reachable");
});

test("SeededRng: chance and pick", (t) => {
  const r = new SeededRng(1);
  t.false(r.chance(0));
  t.true(r.chance(1));
  const items = ["x", "y", "z"];
  for (let i = 0; i < 50; i++) t.true(items.includes(r.pick(items)));
  t.throws(() => r.pick([]), { instanceOf: RangeError });
});
