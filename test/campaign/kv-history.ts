/**
 * The history of a fault campaign against the kv store: what each client asked, when, and what
 * it saw. It is the input of the linearizability checker (linearizability.ts).
 *
 * Times are numbers on one clock shared by every client of the campaign (a monotonic clock of
 * the test process, in any unit). An operation A precedes an operation B in real time iff
 * `A.ret < B.call`, strictly: operations whose intervals merely touch are concurrent, the lenient
 * reading when two clock readings tie.
 *
 * Outcomes:
 * - `ok`: the client got a reply; the operation took effect once, between `call` and `ret`, and a
 *   get's `result` is what it read (`null`: the key was absent).
 * - `unknown`: no reply (timeout, connection lost). A write may or may not have taken effect, at
 *   any time after `call`: its `ret` is `Infinity`. A get without a reply has no effect and shows
 *   nothing, so it is dropped from the check.
 * - `failed`: the store refused it and it certainly did not take effect (a definite error, e.g.
 *   "not leader" before the proposal): it is dropped from the check.
 */

/** What every operation has. */
interface KvOpBase {
  /** Who issued it; one client issues one operation at a time. */
  readonly client: string;
  readonly key: string;
  /** When the client sent it. */
  readonly call: number;
}

/** A get that returned: the value it read, `null` when the key was absent. */
export interface KvGetOk extends KvOpBase {
  readonly kind: "get";
  readonly outcome: "ok";
  readonly result: string | null;
  /** When the reply arrived; `call <= ret`. */
  readonly ret: number;
}

/** A get that did not return, or was refused: it showed nothing and is never checked. */
export interface KvGetLost extends KvOpBase {
  readonly kind: "get";
  readonly outcome: "unknown" | "failed";
  readonly ret: number;
}

/** A put of `value` (or, with `kind: "delete"`, a delete). */
interface KvWriteBase extends KvOpBase {
  readonly outcome: "ok" | "unknown" | "failed";
  /** When the reply arrived; `Infinity` when the outcome is `unknown`. */
  readonly ret: number;
}

/** A put: sets the key to `value`. */
export interface KvPut extends KvWriteBase {
  readonly kind: "put";
  readonly value: string;
}

/** A delete: makes the key absent. */
export interface KvDelete extends KvWriteBase {
  readonly kind: "delete";
}

/** One operation of a kv history. */
export type KvOperation = KvGetOk | KvGetLost | KvPut | KvDelete;

/** A kv history: operations in any order. */
export type KvHistory = readonly KvOperation[];

/**
 * An operation the checker must linearize: a returned get, a returned write, or a write of
 * unknown outcome (`ret === Infinity`). `index` is its position in the history it came from.
 */
export type CheckedOperation = (KvGetOk | KvPut | KvDelete) & { readonly index: number };

/** The operations of a history that the checker must linearize, and how many were dropped. */
export interface PreparedHistory {
  readonly ops: readonly CheckedOperation[];
  /** Failed operations and gets of unknown outcome: they had no effect and showed nothing. */
  readonly dropped: number;
}

/**
 * Drops what has no effect (failed operations, gets of unknown outcome) and gives every write of
 * unknown outcome `ret = Infinity`, whatever the recorder put there. Throws on an operation
 * whose `ret` precedes its `call` or whose times are not numbers: the recorder is broken and no
 * verdict on such a history means anything.
 */
export function prepareHistory(history: KvHistory): PreparedHistory {
  const ops: CheckedOperation[] = [];
  let dropped = 0;
  history.forEach((op, index) => {
    if (!Number.isFinite(op.call) || typeof op.ret !== "number" || Number.isNaN(op.ret)) {
      throw new Error(`kv history: operation ${index} has times that are not numbers (call must be finite)`);
    }
    if (op.outcome === "failed" || (op.kind === "get" && op.outcome !== "ok")) {
      dropped += 1;
      return;
    }
    if (op.outcome === "unknown") {
      ops.push({ ...op, ret: Infinity, index });
      return;
    }
    if (op.ret < op.call || !Number.isFinite(op.ret)) {
      throw new Error(
        `kv history: operation ${index} is ok but its ret (${op.ret}) is not a finite time >= its call (${op.call})`,
      );
    }
    ops.push({ ...op, index });
  });
  return { ops, dropped };
}

/** A one-line rendering of an operation, for evidence and failure messages. */
export function describeOperation(op: KvOperation): string {
  const ret = op.ret === Infinity ? "∞" : String(op.ret);
  const span = `[${op.call}, ${ret}]`;
  const outcome = op.outcome === "ok" ? "" : ` (${op.outcome})`;
  switch (op.kind) {
    case "get":
      return op.outcome === "ok"
        ? `${op.client} get ${op.key} -> ${JSON.stringify(op.result)} ${span}`
        : `${op.client} get ${op.key}${outcome} ${span}`;
    case "put":
      return `${op.client} put ${op.key}=${JSON.stringify(op.value)}${outcome} ${span}`;
    case "delete":
      return `${op.client} delete ${op.key}${outcome} ${span}`;
  }
}

/** Options of a {@link KvHistoryRecorder}. */
export interface KvHistoryRecorderOptions {
  /** The campaign's clock; `performance.now` unless told. Must never go backwards. */
  readonly now?: () => number;
}

/** How an operation started with {@link KvHistoryRecorder.invoke} ended. */
export type KvCompletion =
  | { readonly outcome: "ok"; readonly result?: string | null }
  | { readonly outcome: "unknown" }
  | { readonly outcome: "failed" };

/** What {@link KvHistoryRecorder.invoke} is asked to record. */
export type KvInvocation =
  | { readonly client: string; readonly key: string; readonly kind: "get" }
  | { readonly client: string; readonly key: string; readonly kind: "put"; readonly value: string }
  | { readonly client: string; readonly key: string; readonly kind: "delete" };

/**
 * Records a history as a campaign runs: `invoke` reads the clock before the request is sent and
 * the function it returns reads it again when the reply (or the give-up) is in hand, so every
 * recorded interval contains the moment the store acted. An operation never completed is
 * recorded as `unknown` by {@link history}.
 */
export class KvHistoryRecorder {
  private readonly now: () => number;
  private readonly ops: (KvOperation | { pending: KvInvocation; call: number })[] = [];

  constructor(options: KvHistoryRecorderOptions = {}) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Starts an operation; call the returned function exactly once when it ends. */
  invoke(invocation: KvInvocation): (completion: KvCompletion) => void {
    const slot = this.ops.length;
    const call = this.now();
    this.ops.push({ pending: invocation, call });
    let done = false;
    return (completion) => {
      if (done) throw new Error("kv history: an operation was completed twice");
      done = true;
      this.ops[slot] = build(invocation, call, this.now(), completion);
    };
  }

  /** The history so far; operations still in flight are `unknown`. */
  history(): KvOperation[] {
    return this.ops.map((op) =>
      "pending" in op ? build(op.pending, op.call, Infinity, { outcome: "unknown" }) : op,
    );
  }
}

function build(inv: KvInvocation, call: number, ret: number, c: KvCompletion): KvOperation {
  const base = { client: inv.client, key: inv.key, call };
  const at = c.outcome === "unknown" ? Infinity : ret;
  switch (inv.kind) {
    case "get":
      return c.outcome === "ok"
        ? { ...base, kind: "get", outcome: "ok", result: c.result ?? null, ret: at }
        : { ...base, kind: "get", outcome: c.outcome, ret: at };
    case "put":
      return { ...base, kind: "put", value: inv.value, outcome: c.outcome, ret: at };
    case "delete":
      return { ...base, kind: "delete", outcome: c.outcome, ret: at };
  }
}
