/**
 * One handler attempt as the leader starts it, and its outcome as the log records it.
 *
 * {@link startHandlerAttempt} turns a committed `handler-started` entry into a running process:
 * the handler environment (CONCLAVE_FENCE is the term:index of that entry, so anything the
 * handler writes elsewhere can be fenced by it), the standard input (the event and the
 * committed member view), and a guard shell that kills the handler's process group if the
 * leader process dies. {@link outcomeDetails} is what `handler-succeeded` / `handler-failed`
 * (and a retry's `previous`) carry: exit code, duration and the tail of the output.
 */
import type { HandlerConfig, Run } from "../../config/node-config.ts";
import type { JsonObject } from "../../contract/canonical-json.ts";
import type { Event } from "../../contract/events.ts";
import { memberView } from "../../coordinator/member-view.ts";
import type { CoordinatorState } from "../../coordinator/state-machine.ts";
import { handlerEnvironment } from "../../contract/handler-env.ts";
import { type ProcessRun, runProcessGroup } from "../../process/process-run.ts";
import type { ProcessSpawner } from "../../process/process-spawner.ts";
import type { RunOutcome } from "../../process/run-outcome.ts";

/**
 * Runs the handler as a child of a small shell that watches the leader process: if the
 * leader dies (even by SIGKILL, which leaves no chance to clean up), the guard kills the
 * handler's whole process group within about 100 ms. `$1` is the leader's pid, the rest is
 * the handler's argv. Standard input is passed through explicitly (a background job would
 * otherwise read /dev/null).
 */
const GUARD = [
  'leader=$1; shift; exec 3<&0; "$@" 0<&3 3<&- & child=$!; exec 3<&-',
  'while kill -0 "$child" 2>/dev/null; do',
  '  if ! kill -0 "$leader" 2>/dev/null; then kill -KILL 0; fi',
  "  sleep 0.1",
  "done",
  'wait "$child"',
].join("\n");

/** The `$0` of the guard shell, so `ps` shows what it is. */
export const GUARD_NAME = "conclave-handler-guard";

/** `run` wrapped in the guard that watches process `leaderPid`. */
export function guarded(run: Run, leaderPid: number): Run {
  const argv = run.kind === "argv" ? [...run.argv] : ["/bin/sh", "-c", run.command];
  return {
    kind: "argv",
    argv: ["/bin/sh", "-c", GUARD, GUARD_NAME, String(leaderPid), ...argv],
  };
}

/** Options of {@link startHandlerAttempt}. */
export interface HandlerAttemptStart {
  /** The event the handler runs for. */
  readonly event: Event;
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
  /** The process the guard watches (the leader's own). */
  readonly leaderPid: number;
  /** How processes are started (the real spawner when absent). */
  readonly spawner?: ProcessSpawner | undefined;
  /** Monotonic clock for the attempt's duration (performance.now when absent). */
  readonly now?: (() => number) | undefined;
}

/** Start one attempt: guarded, with the handler environment and the stdin document. */
export function startHandlerAttempt(o: HandlerAttemptStart): ProcessRun {
  const { event: e, state } = o;
  const member = e.member ? state.members.get(e.member) : undefined;
  return runProcessGroup({
    run: guarded(o.handler.run, o.leaderPid),
    env: handlerEnvironment({
      event: { id: e.id, type: e.type },
      handler: o.handler.name,
      attempt: o.attempt,
      term: o.started.term,
      fence: { term: o.started.term, index: o.started.id },
      ...(e.member ? { member: e.member } : {}),
      ...(member?.address ? { memberAddress: member.address } : {}),
      ...(e.service ? { service: e.service } : {}),
      cluster: o.cluster,
    }),
    stdin: JSON.stringify({
      event: e,
      members: state.members.list().map((m) => memberView(m, state.masters)),
    }),
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
