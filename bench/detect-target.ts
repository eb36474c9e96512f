/**
 * What bench/detect-vs-serf.ts drives: a group of member processes on 127.0.0.1 that detect
 * each other's failure and run an event handler for it, which appends one line per run to a
 * log file. The same round loop measures every implementation of {@link DetectTarget}
 * (Conclave members watched by electors, serf agents), so the figures differ only by what the
 * software does.
 */
import { performance } from "node:perf_hooks";

/** One run of the failure handler, as the handler itself logged it. */
export interface HandlerRun {
  /** Wall clock (ns since the epoch) when the handler's first command ran (`date +%s%N`). */
  readonly atNs: bigint;
  /** The members the run was about (Conclave: one; serf: the coalesced members on stdin). */
  readonly failed: readonly string[];
  /** Which process ran it (elector name, serf node name, or "?" when unknown). */
  readonly runner: string;
  /** Conclave's `CONCLAVE_EVENT_ID` and attempt ("id/attempt"); "" for serf. */
  readonly eventId: string;
  /** The log line as written, for reports. */
  readonly raw: string;
}

/** A group of members under test. Every async method may throw when the cluster misbehaves. */
export interface DetectTarget {
  /** Column heading in the results table ("conclave", "serf"). */
  readonly label: string;
  /** The member names that are killed in turn, fixed at construction. */
  readonly members: readonly string[];
  /**
   * How many handler runs one failure should produce at most (Conclave: 1, serf: every
   * surviving agent). The round loop stops waiting for further runs once this many arrived.
   */
  readonly expectedRunsPerFailure: number;
  /** How long to wait for the first handler run after a kill before giving the round up. */
  readonly detectTimeoutMs: number;
  /** Start every process and wait until every member is up / alive. */
  start(): Promise<void>;
  /** `kill -9` a member and wait until its process is gone. */
  kill9(name: string): Promise<void>;
  /** Start a killed member again and wait until every member is up / alive everywhere. */
  restart(name: string): Promise<void>;
  /** Every handler run logged so far, in log order. */
  runs(): HandlerRun[];
  /** Process id of every running member. */
  memberPids(): Map<string, number>;
  /** Process id of every running process that is not a member (Conclave's electors). */
  otherPids(): Map<string, number>;
  /** The version string of the software. */
  version(): string;
  /** Kill every process and delete the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** The same as {@link stop} without waiting: for exit and signal handlers. Idempotent. */
  stopSync(): void;
  /** The last lines each process wrote, for diagnosing a failure. */
  diagnostics(): string;
}

/**
 * The wall clock in ns since the epoch, with sub-millisecond resolution, comparable with
 * `date +%s%N` on the same machine.
 */
export function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}

/** Poll `fn` every `everyMs` until it returns something other than undefined; throw after `timeoutMs`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000} s waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`,
  );
}
