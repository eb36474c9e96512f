/**
 * How large a history the linearizability checker handles within a time limit: for each
 * concurrency, the most operations on one key (doubling, then bisecting) whose check, on a
 * history a true register produced, answers `ok` within the limit for every seed tried.
 *
 *   node --import=tsx test/campaign/measure-linearizability.ts [limitMs=1000] [unknownRate=0]
 *
 * Also times the violating variant (one get reads a value never written), which must search
 * every linearization the cache leaves open before it can say no.
 */
import { checkLinearizability } from "./linearizability.ts";
import { executePlan, randomPlan } from "./register-history.ts";
import type { KvOperation } from "./kv-history.ts";

const limitMs = Number(process.argv[2] ?? 1000);
const unknownRate = Number(process.argv[3] ?? 0);
const SEEDS = [1, 2, 3];

/** The slowest check over the seeds, or Infinity when one did not answer as expected. */
function worstMs(ops: number, concurrency: number, violate: boolean): number {
  let worst = 0;
  for (const seed of SEEDS) {
    const history = executePlan(randomPlan({ ops, concurrency, unknownRate, seed, values: 8 }));
    if (violate) {
      const at = history.findIndex(
        (op) => op.kind === "get" && op.outcome === "ok" && op.call > 0.9 * ops * 10,
      );
      const victim = history[at];
      if (victim === undefined || victim.kind !== "get" || victim.outcome !== "ok") continue;
      history[at] = { ...victim, result: "never-written" } satisfies KvOperation;
    }
    const start = performance.now();
    const r = checkLinearizability(history, {
      maxSteps: Number.MAX_SAFE_INTEGER,
      timeLimitMs: 2 * limitMs,
      shrink: false,
    });
    const ms = performance.now() - start;
    if (r.ok !== !violate) return Infinity;
    worst = Math.max(worst, ms);
    if (ms > limitMs) return ms;
  }
  return worst;
}

/** The largest op count within the limit, and the time it took. */
function largest(concurrency: number, violate: boolean): { ops: number; ms: number } {
  let lo = 0;
  let loMs = 0;
  let hi = 50;
  for (;;) {
    const ms = worstMs(hi, concurrency, violate);
    if (ms > limitMs || hi >= 100_000) break;
    lo = hi;
    loMs = ms;
    hi *= 2;
  }
  while (hi - lo > Math.max(10, lo / 20)) {
    const mid = Math.floor((lo + hi) / 2);
    const ms = worstMs(mid, concurrency, violate);
    if (ms <= limitMs) {
      lo = mid;
      loMs = ms;
    } else hi = mid;
  }
  return { ops: lo, ms: Math.round(loMs) };
}

/** The mean number of operations in flight at an operation's linearization point. */
function meanInFlight(concurrency: number): number {
  const plan = randomPlan({ ops: 2000, concurrency, unknownRate: 0, seed: 1 });
  const total = plan.reduce((sum, p) => sum + (p.lead + p.lag) / 10 + 1, 0);
  return Math.round((10 * total) / plan.length) / 10;
}

console.log(`limit ${limitMs} ms, unknown-outcome writes ${unknownRate * 100}%, seeds ${SEEDS.join(",")}`);
for (const concurrency of [1, 2, 4, 8, 16, 32, 64]) {
  const ok = largest(concurrency, false);
  const bad = largest(concurrency, true);
  console.log(
    `concurrency ${String(concurrency).padStart(2)} (mean ${meanInFlight(concurrency)} ops in flight): linearizable up to ${ok.ops} ops/key (${ok.ms} ms), ` +
      `violating up to ${bad.ops} ops/key (${bad.ms} ms)`,
  );
}
