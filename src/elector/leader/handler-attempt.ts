/**
 * One handler attempt as the leader starts it, and its outcome as the log records it.
 *
 * {@link startHandlerAttempt} builds exactly what a handler gets for a committed event with
 * `handlerInvocation` (contract/handler-env.ts; `conclave handlers test` builds the same): the
 * handler environment (CONCLAVE_FENCE is the term:index of the attempt's handler-started entry,
 * so anything the handler writes elsewhere can be fenced by it) and the standard input (the
 * newest covered event, the ids it covers and the committed member view), and runs it under
 * the lease watchdog
 * (process/lease-watchdog.ts), with nothing else of the agent's environment but PATH, HOME and
 * the locale (`inheritedHandlerEnv`): the run's whole process group is killed when the leader stops
 * renewing its lease. {@link outcomeDetails} is what `handler-succeeded` / `handler-failed`
 * (and a retry's `previous`) carry: exit code, duration and the tail of the output.
 */
import type { HandlerConfig } from "../../config/node-config.ts";
import type { JsonObject } from "../../contract/canonical-json.ts";
import type { Event } from "../../contract/events.ts";
import { handlerInvocation, inheritedHandlerEnv } from "../../contract/handler-env.ts";
import { memberView } from "../../coordinator/member-view.ts";
import type { CoordinatorState } from "../../coordinator/state-machine.ts";
import { leaseGuardedRun, type RunGuard } from "../../process/lease-watchdog.ts";
import { type ProcessRun, runProcessGroup } from "../../process/process-run.ts";
import type { ProcessSpawner } from "../../process/process-spawner.ts";
import type { RunOutcome } from "../../process/run-outcome.ts";

/** Options of {@link startHandlerAttempt}. */
export interface HandlerAttemptStart {
  /** The newest event the run handles. */
  readonly event: Event;
  /** Every event id the run handles, in commit order, ending with `event.id`. */
  readonly covers: readonly number[];
  /** The configured handler to run. */
  readonly handler: HandlerConfig;
  /** The attempt number (1 for the first run of the pair), `CONCLAVE_ATTEMPT`. */
  readonly attempt: number;
  /** The committed `handler-started` entry of this attempt: its term and id are the fence. */
  readonly started: Event;
  /** The committed state, for the member's address and the member view on stdin. */
  readonly state: Pick<CoordinatorState, "members" | "masters">;
  /** `CONCLAVE_CLUSTER`. */
  readonly cluster: string;
  /** The run's first lease deadline, on the boot clock (centiseconds). */
  readonly deadlineCs: number;
  /** How processes are started (the real spawner when absent). */
  readonly spawner?: ProcessSpawner | undefined;
  /** How the run is guarded by its lease ({@link leaseGuardedRun} when absent). */
  readonly guard?: RunGuard | undefined;
  /** Monotonic clock for the attempt's duration (performance.now when absent). */
  readonly now?: (() => number) | undefined;
  /** The agent's environment, of which the run keeps only PATH, HOME and the locale (`process.env` when absent). */
  readonly agentEnv?: Readonly<Record<string, string | undefined>> | undefined;
}

/** Start one attempt under the lease watchdog, with the handler environment and stdin. */
export function startHandlerAttempt(o: HandlerAttemptStart): ProcessRun {
  const { env, stdin } = handlerInvocation({
    event: o.event,
    covers: o.covers,
    handler: o.handler.name,
    attempt: o.attempt,
    fence: { term: o.started.term, index: o.started.id },
    members: o.state.members.list().map((m) => memberView(m, o.state.masters)),
    cluster: o.cluster,
  });
  return runProcessGroup({
    run: (o.guard ?? leaseGuardedRun)(o.handler.run, o.deadlineCs),
    controlPipe: true,
    // Not the agent's whole environment: PATH, HOME and the locale, then the contract's variables.
    baseEnv: inheritedHandlerEnv(o.agentEnv ?? process.env),
    env,
    stdin,
    timeoutMs: o.handler.timeoutMs,
    ...(o.spawner ? { spawner: o.spawner } : {}),
    ...(o.now ? { now: o.now } : {}),
  });
}

/** Exit code, duration and output of an attempt, as event details. */
export function outcomeDetails(o: RunOutcome): JsonObject {
  const base: JsonObject = { outcome: o.kind, duration_ms: Math.round(o.durationMs) };
  switch (o.kind) {
    case "exited":
      return { ...base, exit_code: o.code, signal: o.signal, ...outputDetails(o.output) };
    case "timeout":
      return { ...base, ...outputDetails(o.output) };
    case "killed":
      return { ...base, reason: o.reason, ...outputDetails(o.output) };
    case "spawn-failed":
      return { ...base, error: o.error.message };
  }
}

/** A run's output tail as event details. */
function outputDetails(out: { text: string; truncated: boolean; totalBytes: number }): JsonObject {
  return { output: out.text, output_truncated: out.truncated, output_bytes: out.totalBytes };
}
