/**
 * The state machine of one process-group run (process-run.ts): its one {@link Phase} value, with
 * the transitions stated where the type is, and {@link RunTimers}, the only place a run's
 * timers are set and cleared. Internal to `src/process/`; callers see only `ProcessRun`.
 */
import type { RunOutcome } from "./run-outcome.ts";

/** The main process's end, as the spawner reported it. */
export interface Exit {
  /** The exit code, or null when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it, or null when it exited with a code. */
  readonly signal: NodeJS.Signals | null;
}

/** Why this runner ended the group before the main process exited; null when it did not. */
export type Cause =
  { readonly kind: "timeout" } | { readonly kind: "killed"; readonly reason: string } | null;

/**
 * What the group has been sent: nothing, SIGTERM with the SIGKILL due at `killDue` (on the
 * run's clock), or SIGKILL. Only ever advances in that order; `killDue` only ever decreases.
 */
export type Signals =
  | { readonly sent: "none" }
  | { readonly sent: "SIGTERM"; readonly killDue: number }
  | { readonly sent: "SIGKILL" };

/**
 * The one phase of a run. Each phase carries exactly what is known in it, so an impossible mix
 * (pipes closed before the exit, a signal after the end) cannot be written down.
 *
 *   spawning  spawn() returned; neither `spawn` nor `exit` seen. An `error` means it never ran.
 *   running   the main process started and has not exited.
 *   exited    the main process exited; waiting for its pipes ("open" -> "done": `close`, or the
 *             drain timer gave up on them) and for its group to be empty or SIGKILLed.
 *   settled   `done` is resolved with `outcome`; no timer is armed; every event is ignored.
 *
 * Transitions (any event not listed for a phase is ignored there):
 *   spawning --`spawn`-------------------------------------------> running
 *   spawning --`error`-------------------------------------------> settled (spawn-failed)
 *   spawning | running --`exit`----------------------------------> exited (pipes "open")
 *   exited (pipes "open") --`close` | drain timer-----------------> exited (pipes "done")
 *   exited (pipes "done"), group empty or SIGKILL sent -----------> settled (timeout | killed | exited)
 *
 * Inside spawning, running and exited, `signals` advances none -> SIGTERM -> SIGKILL: on a
 * timeout or kill() (any live phase), or for stragglers left in the group after the exit;
 * SIGKILL when the grace is over or at once for a grace of 0. `cause` is set at most once, by
 * the first timeout or kill() before the exit, and decides between timeout, killed and exited.
 */
export type Phase =
  | { readonly name: "spawning" | "running"; readonly cause: Cause; readonly signals: Signals }
  | {
      readonly name: "exited";
      readonly cause: Cause;
      readonly signals: Signals;
      readonly exit: Exit;
      readonly pipes: "open" | "done";
    }
  | { readonly name: "settled"; readonly outcome: RunOutcome };

/**
 * The timers of a run, each armed only while it is needed:
 * - `timeout`: from the start until the exit (it ends the group and makes the cause `timeout`);
 * - `kill`: from SIGTERM until SIGKILL is sent (re-armed when a kill() brings it forward);
 * - `drain`: from the exit until the pipes close (then it stops waiting for them);
 * - `poll`: from "pipes done" while stragglers are still in the group.
 */
export type TimerName = "timeout" | "kill" | "drain" | "poll";

/**
 * The armed timers of one run, by name: arming a name replaces its timer, and
 * {@link RunTimers.disarmAll} (called once, when the run settles) leaves none behind.
 */
export class RunTimers {
  private readonly armed = new Map<TimerName, NodeJS.Timeout>();

  /** Arm `name` to call `fire` once after `ms`, or every `ms` when `repeat`; replaces an armed one. */
  arm(name: TimerName, ms: number, fire: () => void, repeat = false): void {
    this.disarm(name);
    const timer = repeat
      ? setInterval(fire, ms)
      : setTimeout(() => {
          this.armed.delete(name);
          fire();
        }, ms);
    this.armed.set(name, timer);
  }

  /** Whether `name` is armed (a one-shot timer that fired is not). */
  has(name: TimerName): boolean {
    return this.armed.has(name);
  }

  /** Clear `name` if armed. */
  disarm(name: TimerName): void {
    const timer = this.armed.get(name);
    if (timer === undefined) return;
    clearTimeout(timer); // clears an interval too: Node's timers are one kind
    this.armed.delete(name);
  }

  /** Clear every armed timer. */
  disarmAll(): void {
    for (const name of [...this.armed.keys()]) this.disarm(name);
  }
}
