/**
 * Histories of a true kv store, for testing the checker: a plan of operations is executed one
 * at a time on sequential registers, operation `i` at its linearization point `(i + 1) *
 * spacing`, and each gets an interval around that point. Such a history is linearizable by
 * construction (the points, in order, are a linearization), however wide the intervals.
 */
import type { KvOperation } from "./kv-history.ts";

/** How one planned operation ends. */
export type PlannedFate =
  /** It took effect at its point and the client saw the reply. */
  | "ok"
  /** It took effect at its point, but the client never saw a reply (a write: ret = ∞). */
  | "unknown-applied"
  /** It never took effect and the client never saw a reply. */
  | "unknown-lost"
  /** It never took effect and the client was told so. */
  | "failed";

/** One operation of a plan. */
export interface PlannedOp {
  readonly client: string;
  readonly key: string;
  readonly kind: "get" | "put" | "delete";
  /** What a put writes; ignored otherwise. */
  readonly value: string;
  /** How long before its point the client called it (>= 0). */
  readonly lead: number;
  /** How long after its point the reply came (>= 0). */
  readonly lag: number;
  readonly fate: PlannedFate;
}

/** Options of {@link executePlan}. */
export interface ExecutePlanOptions {
  /** The time between two consecutive linearization points; 10 unless told. */
  readonly spacing?: number;
}

/**
 * Executes a plan on registers (one per key, initially absent) and records what clients saw.
 * Invariant: every recorded interval contains its operation's point, and every operation whose
 * fate is not `ok` or `unknown-applied` left the registers untouched.
 */
export function executePlan(plan: readonly PlannedOp[], options: ExecutePlanOptions = {}): KvOperation[] {
  const spacing = options.spacing ?? 10;
  const registers = new Map<string, string>();
  return plan.map((p, i): KvOperation => {
    const point = (i + 1) * spacing;
    const call = point - p.lead;
    const ret = point + p.lag;
    const applied = p.fate === "ok" || p.fate === "unknown-applied";
    const base = { client: p.client, key: p.key, call };
    const outcome = p.fate === "ok" ? "ok" : p.fate === "failed" ? "failed" : "unknown";
    const at = outcome === "unknown" ? Infinity : ret;
    switch (p.kind) {
      case "get": {
        const result = registers.get(p.key) ?? null;
        return outcome === "ok"
          ? { ...base, kind: "get", outcome, result, ret }
          : { ...base, kind: "get", outcome, ret: at };
      }
      case "put":
        if (applied) registers.set(p.key, p.value);
        return { ...base, kind: "put", value: p.value, outcome, ret: at };
      case "delete":
        if (applied) registers.delete(p.key);
        return { ...base, kind: "delete", outcome, ret: at };
    }
  });
}

/** Options of {@link randomPlan}. */
export interface RandomPlanOptions {
  readonly ops: number;
  readonly keys?: number;
  /**
   * About how many operations are in flight at once: each interval spans up to this many
   * points. 1 makes a nearly sequential history.
   */
  readonly concurrency: number;
  /** The share of writes whose outcome is unknown (half of them applied); 0 unless told. */
  readonly unknownRate?: number;
  /** How many distinct values puts draw from; unique values unless told. */
  readonly values?: number;
  readonly seed?: number;
  /** The time between two points, as {@link executePlan} will be told; 10 unless told. */
  readonly spacing?: number;
}

/** A pseudo-random plan (xorshift, deterministic in `seed`), for benchmarks and soak runs. */
export function randomPlan(options: RandomPlanOptions): PlannedOp[] {
  let s = (options.seed ?? 1) | 0 || 1;
  const rand = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
  const spacing = options.spacing ?? 10;
  const span = options.concurrency * spacing;
  const keys = options.keys ?? 1;
  const plan: PlannedOp[] = [];
  for (let i = 0; i < options.ops; i++) {
    const r = rand();
    const kind = r < 0.45 ? "get" : r < 0.9 ? "put" : "delete";
    const width = rand() * span;
    const lead = rand() * width;
    const unknown = kind !== "get" && rand() < (options.unknownRate ?? 0);
    plan.push({
      client: `c${i % Math.max(1, options.concurrency)}`,
      key: `k${Math.floor(rand() * keys)}`,
      kind,
      value: options.values === undefined ? `v${i}` : `v${Math.floor(rand() * options.values)}`,
      lead,
      lag: width - lead,
      fate: unknown ? (rand() < 0.5 ? "unknown-applied" : "unknown-lost") : "ok",
    });
  }
  return plan;
}
