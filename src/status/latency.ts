/**
 * Where the code that does the work reports how long it took: the log store's fsynced
 * writes, a proposal's commit, an entry's apply, a handler run, a member's report round
 * trip. Each `observe*` hands the duration to every sink attached, and costs nothing when
 * none is: a node without `http:` never loads prom-client (node-metrics.ts, the only sink,
 * is loaded with the status port). No imports, so member and elector code may both call it.
 *
 * A sink attached later does not see what was observed before: the histograms count from
 * when the status port opened, a few milliseconds after the node started.
 */

/**
 * How a handler run ended, for `conclave_handler_run_duration_seconds{outcome}`: exit 0,
 * any other exit (or a signal nobody here sent), its timeout, killed (leadership lost, the
 * node stopping), or never started.
 */
export type HandlerRunOutcome = "succeeded" | "failed" | "timeout" | "killed" | "spawn-failed";

/** What receives the observations; durations in seconds. */
export interface LatencySink {
  fsync(seconds: number): void;
  commit(seconds: number): void;
  apply(seconds: number): void;
  handlerRun(handler: string, outcome: HandlerRunOutcome, seconds: number): void;
  reportRtt(seconds: number): void;
}

const sinks = new Set<LatencySink>();

/** Send every later observation to `sink` too; returns the function that detaches it. */
export function attachLatencySink(sink: LatencySink): () => void {
  sinks.add(sink);
  return () => sinks.delete(sink);
}

/** One fsynced write batch of the log store (LevelDB `batch` with `sync`) took `seconds`. */
export function observeFsync(seconds: number): void {
  for (const s of sinks) s.fsync(seconds);
}

/** A proposal made on this leader was applied here `seconds` after it was proposed. */
export function observeCommit(seconds: number): void {
  for (const s of sinks) s.commit(seconds);
}

/** Applying one committed entry to the state machine took `seconds`. */
export function observeApply(seconds: number): void {
  for (const s of sinks) s.apply(seconds);
}

/** One run (attempt) of `handler` ended with `outcome` after `seconds`. */
export function observeHandlerRun(handler: string, outcome: HandlerRunOutcome, seconds: number): void {
  for (const s of sinks) s.handlerRun(handler, outcome, seconds);
}

/** A member's report was acknowledged `seconds` after it was sent. */
export function observeReportRtt(seconds: number): void {
  for (const s of sinks) s.reportRtt(seconds);
}

/** Seconds from `startMs` to `endMs` (monotonic milliseconds, as performance.now). */
export function secondsBetween(startMs: number, endMs: number): number {
  return Math.max(0, endMs - startMs) / 1000;
}

/**
 * The {@link HandlerRunOutcome} of a process run's outcome (process/run-outcome.ts's
 * `RunOutcome`, taken by shape so this module imports nothing).
 */
export function handlerRunOutcome(o: {
  readonly kind: "exited" | "timeout" | "killed" | "spawn-failed";
  readonly code?: number | null;
}): HandlerRunOutcome {
  if (o.kind === "exited") return o.code === 0 ? "succeeded" : "failed";
  return o.kind;
}
