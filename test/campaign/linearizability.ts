/**
 * A linearizability checker for kv histories (kv-history.ts), each key a register: initially
 * absent (`null`), a put sets it, a delete makes it absent, a get returns what it holds.
 *
 * The algorithm is Wing & Gong's search as Lowe improved it and Horn & Kroening partitioned it
 * (the one porcupine and knossos' "linear" checker implement; this is our own code):
 * - P-compositionality: linearizability is local, so each key is checked alone, and a violation
 *   is reported against the key it is on.
 * - The operations of a key become a doubly linked list of call and return events in time order.
 *   The search walks it depth first: a call whose operation the register accepts in the current
 *   state is linearized (the call and its return are lifted out of the list, and the walk
 *   restarts at the head); reaching a return means its operation cannot be put off any longer,
 *   so the last choice is undone (unlifted) and the walk goes on after it.
 * - A cache of (set of linearized operations, register state) prunes every configuration
 *   already explored: from the same set and state the rest of the search is the same.
 * - A write of unknown outcome has its return at `Infinity`, so it can be linearized anywhere
 *   after its call, including after everything else, which is "it never took effect". Once every
 *   operation with a finite return is linearized the rest are such writes, which a register
 *   always accepts: the search stops there with success.
 *
 * Every search is bounded by a step budget and answers `unknown` past it: it never hangs.
 */
import { type CheckedOperation, describeOperation, type KvHistory, prepareHistory } from "./kv-history.ts";

/** Options of {@link checkLinearizability}. */
export interface LinearizabilityOptions {
  /** The most search steps (one per event visited) for one key before answering `unknown`. */
  readonly maxSteps?: number;
  /**
   * Whether to look, on a violation, for a smaller sub-history that is still not linearizable
   * (by dropping gets and writes nobody read, each of which keeps a linearizable history
   * linearizable). On by default; skipped for keys with more than {@link shrinkMaxOps} ops.
   */
  readonly shrink?: boolean;
  /** The largest key history the shrink is tried on. */
  readonly shrinkMaxOps?: number;
  /** A wall-clock bound, in ms, on the search of one key, on top of the step budget. */
  readonly timeLimitMs?: number;
}

/**
 * The default step budget of one key. A step costs up to a walk over the ops in flight, so the
 * worst case (everything concurrent, no linearization) is about 3 s on the 2-core test box
 * (4M steps of 40 concurrent puts took 6.2 s under load); a linearizable history spends
 * roughly (1 + ops in flight) steps per op, so this covers ~100k ops at a handful in flight.
 */
export const DEFAULT_MAX_STEPS = 2_000_000;
const DEFAULT_SHRINK_MAX_OPS = 200;
/** The step budget of each trial search of the shrink. */
const SHRINK_TRIAL_STEPS = 10_000;
/** The most trial searches of one shrink: at most 2M steps in all, a fraction of a second. */
const SHRINK_MAX_TRIALS = 200;
/** The most configurations one key's cache holds (a JS Map holds at most 2^24). */
const MAX_CACHE_ENTRIES = 8_000_000;

/** Why one key's history is not linearizable. */
export interface Violation {
  /** The operations of the key that were checked, in call order. */
  readonly ops: readonly CheckedOperation[];
  /** The longest linearizable prefix the search found, in linearization order. */
  readonly prefix: readonly CheckedOperation[];
  /** What the register holds after {@link prefix}. */
  readonly stateAfterPrefix: string | null;
  /**
   * The operations that could come next after {@link prefix} in real time (no other pending
   * operation returned before they were called), none of which the register accepts there.
   */
  readonly stuck: readonly CheckedOperation[];
  /**
   * A sub-history of {@link ops} that is already not linearizable, as small as a greedy shrink
   * found (all of {@link ops} when the shrink was skipped), in call order.
   */
  readonly minimal: readonly CheckedOperation[];
  /** All of the above in words, for a failure message. */
  readonly summary: string;
}

/** The verdict on a history. */
export type LinearizabilityResult =
  | {
      readonly ok: true;
      /** How many keys were checked. */
      readonly keys: number;
      /** How many operations were checked (after dropping the ones with no effect). */
      readonly ops: number;
      /** Failed operations and gets of unknown outcome, which were not checked. */
      readonly dropped: number;
    }
  | { readonly ok: false; readonly key: string; readonly evidence: Violation }
  | { readonly ok: "unknown"; readonly key: string; readonly reason: string };

/**
 * Checks a kv history for linearizability, key by key. A violation on any key wins over a key
 * whose search ran out of budget (a violation is definite); among several, the first key in
 * sorted order is reported.
 */
export function checkLinearizability(
  history: KvHistory,
  options: LinearizabilityOptions = {},
): LinearizabilityResult {
  const maxSteps = options.maxSteps ?? DEFAULT_MAX_STEPS;
  const { ops, dropped } = prepareHistory(history);
  const byKey = new Map<string, CheckedOperation[]>();
  for (const op of ops) {
    const list = byKey.get(op.key);
    if (list === undefined) byKey.set(op.key, [op]);
    else list.push(op);
  }
  let unknown: LinearizabilityResult | undefined;
  for (const key of [...byKey.keys()].sort()) {
    const keyOps = (byKey.get(key) ?? []).slice().sort((a, b) => a.call - b.call || a.index - b.index);
    const deadline = options.timeLimitMs === undefined ? Infinity : performance.now() + options.timeLimitMs;
    const found = searchRegister(keyOps, { maxSteps, deadline });
    if (found.kind === "linearizable") continue;
    if (found.kind === "budget") {
      const budget =
        found.spent === "steps"
          ? `its budget of ${maxSteps} steps`
          : found.spent === "time"
            ? `its time limit of ${options.timeLimitMs} ms`
            : `its cache limit of ${MAX_CACHE_ENTRIES} configurations`;
      unknown ??= {
        ok: "unknown",
        key,
        reason: `the search of key ${JSON.stringify(key)} (${keyOps.length} ops) ran out of ${budget}`,
      };
      continue;
    }
    const shrink =
      (options.shrink ?? true) && keyOps.length <= (options.shrinkMaxOps ?? DEFAULT_SHRINK_MAX_OPS);
    return { ok: false, key, evidence: violation(key, keyOps, found, shrink) };
  }
  return unknown ?? { ok: true, keys: byKey.size, ops: ops.length, dropped };
}

/** What the search of one key found. */
type SearchOutcome =
  | { readonly kind: "linearizable" }
  | {
      readonly kind: "violation";
      /** The longest linearizable prefix found, in linearization order. */
      readonly prefix: readonly CheckedOperation[];
      readonly state: string | null;
    }
  | { readonly kind: "budget"; readonly spent: "steps" | "time" | "memory" };

/** The bounds of one search. */
interface SearchBounds {
  readonly maxSteps: number;
  /** A `performance.now()` time past which the search gives up. */
  readonly deadline: number;
}

const GET = 0;
const PUT = 1;
const DELETE = 2;
/** The interned register state "absent". */
const ABSENT = 0;

/** A configuration already explored: a linearized set (see {@link searchRegister}) and a state. */
interface Seen {
  readonly top: number;
  readonly holes: Int32Array;
  readonly state: number;
}

/**
 * The Wing & Gong / Lowe search over one register's operations.
 *
 * Ops are numbered in call order. Entries 0..2n-1 are the call and return events in time order
 * (so call entries come in op order); entry 2n is the head sentinel. Invariant: the list holds
 * exactly the events of the operations not yet linearized, in time order, and the ops of the
 * stack's entries, in order, are a linearization of the lifted ones that ends in `state`.
 *
 * A linearized set is kept in the cache as `top` (one past the highest op linearized) and its
 * `holes` (the ops below `top` not linearized, ascending). A hole's return is after the call of
 * a linearized op, so holes are the ops concurrent with the frontier plus writes of unknown
 * outcome left out: few, where a bitset would cost n/32 words per configuration.
 */
function searchRegister(given: readonly CheckedOperation[], bounds: SearchBounds): SearchOutcome {
  const { maxSteps, deadline } = bounds;
  const ops = given.slice().sort((a, b) => a.call - b.call || a.index - b.index);
  const n = ops.length;
  if (n === 0) return { kind: "linearizable" };

  // The register's values, interned: 0 is absent, 1.. are strings, in the order first met.
  const values = new Map<string, number>();
  const names: (string | null)[] = [null];
  const intern = (v: string | null): number => {
    if (v === null) return ABSENT;
    let id = values.get(v);
    if (id === undefined) {
      id = names.length;
      values.set(v, id);
      names.push(v);
    }
    return id;
  };
  const opKind = new Uint8Array(n);
  const opArg = new Int32Array(n); // get: the value read; put: the value written
  const opFinite = new Uint8Array(n);
  let finite = 0;
  ops.forEach((op, i) => {
    if (op.kind === "get") {
      opKind[i] = GET;
      opArg[i] = intern(op.result);
    } else if (op.kind === "put") {
      opKind[i] = PUT;
      opArg[i] = intern(op.value);
    } else {
      opKind[i] = DELETE;
    }
    if (Number.isFinite(op.ret)) {
      opFinite[i] = 1;
      finite += 1;
    }
  });
  /** The state after op `i` from `state`, or -1 when the register refuses it there. */
  const step = (state: number, i: number): number => {
    switch (opKind[i]) {
      case GET:
        return opArg[i] === state ? state : -1;
      case PUT:
        return opArg[i] ?? -1;
      default:
        return ABSENT;
    }
  };

  // Events in time order; at equal times calls come first (so touching intervals overlap), and
  // calls in op order.
  const events: { time: number; call: boolean; op: number }[] = [];
  ops.forEach((op, i) => {
    events.push({ time: op.call, call: true, op: i });
    events.push({ time: op.ret, call: false, op: i });
  });
  events.sort((a, b) => a.time - b.time || (a.call === b.call ? a.op - b.op : a.call ? -1 : 1) || 0);
  const size = 2 * n;
  const head = size;
  const entOp = new Int32Array(size);
  const isCall = new Uint8Array(size);
  const match = new Int32Array(size).fill(-1); // a call's return entry
  const callOf = new Int32Array(n);
  events.forEach((e, pos) => {
    entOp[pos] = e.op;
    if (e.call) {
      isCall[pos] = 1;
      callOf[e.op] = pos;
    }
  });
  events.forEach((e, pos) => {
    if (!e.call) match[callOf[e.op] ?? 0] = pos;
  });
  const next = new Int32Array(size + 1);
  const prev = new Int32Array(size + 1);
  for (let p = 0; p < size; p++) {
    next[p] = p + 1 < size ? p + 1 : -1;
    prev[p] = p === 0 ? head : p - 1;
  }
  next[head] = 0;
  prev[head] = -1;

  /** Takes a call and its return out of the list. */
  const lift = (c: number) => {
    const r = match[c] ?? 0;
    next[prev[c] ?? 0] = next[c] ?? -1;
    prev[next[c] ?? 0] = prev[c] ?? -1; // a call is never last: its return follows it
    next[prev[r] ?? 0] = next[r] ?? -1;
    const after = next[r] ?? -1;
    if (after !== -1) prev[after] = prev[r] ?? -1;
  };
  /** Puts back what `lift(c)` took, in the reverse order, restoring every link. */
  const unlift = (c: number) => {
    const r = match[c] ?? 0;
    next[prev[r] ?? 0] = r;
    const after = next[r] ?? -1;
    if (after !== -1) prev[after] = r;
    next[prev[c] ?? 0] = c;
    prev[next[c] ?? 0] = c;
  };

  // The linearized set's Zobrist hash, kept incrementally, buckets the cache.
  const zobrist = new Int32Array(n);
  let seed = 0x2545f491;
  for (let i = 0; i < n; i++) {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    zobrist[i] = seed;
  }
  const cache = new Map<number, Seen[]>();
  let cached = 0;
  const scratch = new Int32Array(n);
  /**
   * Adds (linearized set + `op`, `state`) to the cache; false when it was already there. The
   * holes below `top` are read off the list: before the first call of an op >= top it holds
   * only events of holes (a return there belongs to an op called earlier, still unlinearized).
   */
  const remember = (h: number, top: number, op: number, state: number): boolean => {
    let count = 0;
    for (let e = next[head] ?? -1; e !== -1; e = next[e] ?? -1) {
      if (!isCall[e]) continue;
      const o = entOp[e] ?? 0;
      if (o >= top) break;
      if (o !== op) scratch[count++] = o;
    }
    const k = (h ^ Math.imul(state + 1, 0x9e3779b1)) | 0;
    let bucket = cache.get(k);
    if (bucket === undefined) {
      bucket = [];
      cache.set(k, bucket);
    }
    for (const seen of bucket) {
      if (seen.state !== state || seen.top !== top || seen.holes.length !== count) continue;
      let same = true;
      for (let i = 0; i < count; i++) {
        if (seen.holes[i] !== scratch[i]) {
          same = false;
          break;
        }
      }
      if (same) return false;
    }
    bucket.push({ top, holes: scratch.slice(0, count), state });
    cached += 1;
    return true;
  };

  const stackEntry = new Int32Array(n);
  const stackState = new Int32Array(n); // the state before that entry's op
  const stackTop = new Int32Array(n); // `top` before that entry's op
  let depth = 0;
  let state = ABSENT;
  let top = 0;
  let hash = 0;
  let linearizedFinite = 0;
  // The longest prefix so far: while `bestPending`, it is the stack's first `bestDepth`
  // entries, copied out only before the stack below that depth changes (at the next undo).
  let best: CheckedOperation[] = [];
  let bestDepth = 0;
  let bestState = ABSENT;
  let bestPending = false;
  const keepBest = () => {
    if (!bestPending) return;
    best = Array.from(stackEntry.subarray(0, bestDepth), (e) => ops[entOp[e] ?? 0] as CheckedOperation);
    bestPending = false;
  };
  let entry = next[head] ?? -1;
  let steps = 0;

  for (;;) {
    if (linearizedFinite === finite) return { kind: "linearizable" };
    if (++steps > maxSteps) return { kind: "budget", spent: "steps" };
    if ((steps & 0xfff) === 0) {
      if (performance.now() > deadline) return { kind: "budget", spent: "time" };
      if (cache.size >= MAX_CACHE_ENTRIES || cached >= 4 * MAX_CACHE_ENTRIES) {
        return { kind: "budget", spent: "memory" };
      }
    }
    // The list is not empty (a finite op is left) and ends with a return, so the walk meets a
    // return before it runs off the end.
    if (isCall[entry]) {
      const op = entOp[entry] ?? 0;
      const after = step(state, op);
      if (after >= 0) {
        const h = hash ^ (zobrist[op] ?? 0);
        const newTop = Math.max(top, op + 1);
        if (remember(h, newTop, op, after)) {
          stackEntry[depth] = entry;
          stackState[depth] = state;
          stackTop[depth] = top;
          depth += 1;
          state = after;
          hash = h;
          top = newTop;
          linearizedFinite += opFinite[op] ?? 0;
          lift(entry);
          if (depth > bestDepth) {
            bestDepth = depth;
            bestState = state;
            bestPending = true;
          }
          entry = next[head] ?? -1;
          continue;
        }
      }
      entry = next[entry] ?? -1;
    } else {
      // A return: its op must be linearized by now and cannot be. Undo the last choice.
      keepBest();
      if (depth === 0) return { kind: "violation", prefix: best, state: names[bestState] ?? null };
      depth -= 1;
      entry = stackEntry[depth] ?? 0;
      state = stackState[depth] ?? ABSENT;
      top = stackTop[depth] ?? 0;
      const op = entOp[entry] ?? 0;
      hash ^= zobrist[op] ?? 0;
      linearizedFinite -= opFinite[op] ?? 0;
      unlift(entry);
      entry = next[entry] ?? -1;
    }
  }
}

/** Builds the evidence of a violation found by {@link searchRegister} on `ops`. */
function violation(
  key: string,
  ops: readonly CheckedOperation[],
  found: Extract<SearchOutcome, { kind: "violation" }>,
  shrink: boolean,
): Violation {
  const prefix = found.prefix;
  const inPrefix = new Set(prefix);
  const rest = ops.filter((op) => !inPrefix.has(op));
  let firstReturn = Infinity;
  for (const op of rest) firstReturn = Math.min(firstReturn, op.ret);
  const stuck = rest.filter((op) => op.call <= firstReturn);
  const minimal = shrink ? shrinkViolation(ops) : ops;
  const lines = [
    `key ${JSON.stringify(key)}: its ${ops.length} operations cannot be linearized.`,
    `The longest linearizable prefix (${prefix.length} ops) leaves it ${JSON.stringify(found.state)}:`,
    ...prefix.map((op) => `  ${describeOperation(op)}`),
    `and none of these, which could come next, fits there:`,
    ...stuck.map((op) => `  ${describeOperation(op)}`),
    `A sub-history that is already not linearizable (${minimal.length} ops):`,
    ...minimal.map((op) => `  ${describeOperation(op)}`),
  ];
  return { ops, prefix, stateAfterPrefix: found.state, stuck, minimal, summary: lines.join("\n") };
}

/**
 * Greedily drops operations from a non-linearizable history while it stays non-linearizable,
 * dropping only what cannot turn a linearizable history into a non-linearizable one (so the
 * result is evidence against the original): any get, and any write of a value (absent, for a
 * delete) that no remaining get reads. A trial that runs out of budget keeps the operation, and
 * the shrink stops after {@link SHRINK_MAX_TRIALS} trials with what it has.
 */
function shrinkViolation(ops: readonly CheckedOperation[]): readonly CheckedOperation[] {
  let current = ops.slice();
  let trials = 0;
  for (let changed = true; changed && trials < SHRINK_MAX_TRIALS;) {
    changed = false;
    // Later operations first: the earliest prefix that fails tends to be the clearest.
    for (let i = current.length - 1; i >= 0 && trials < SHRINK_MAX_TRIALS; i--) {
      const op = current[i];
      if (op === undefined || !droppable(op, current)) continue;
      const without = current.filter((_, j) => j !== i);
      trials += 1;
      if (
        searchRegister(without, { maxSteps: SHRINK_TRIAL_STEPS, deadline: Infinity }).kind === "violation"
      ) {
        current = without;
        changed = true;
      }
    }
  }
  return current;
}

/** Whether dropping `op` from `ops` keeps a linearizable history linearizable. */
function droppable(op: CheckedOperation, ops: readonly CheckedOperation[]): boolean {
  if (op.kind === "get") return true;
  const written = op.kind === "put" ? op.value : null;
  return !ops.some((o) => o.kind === "get" && o.result === written);
}
