/**
 * How one run of a process group ended ({@link RunOutcome}) and the two questions every caller
 * asks of it: did it succeed ({@link succeeded}), and how to say what happened in one line
 * ({@link describeOutcome}). Handlers, check actions and service scripts all judge a run here,
 * so "success" means the same everywhere: exit code 0 and nothing else.
 */
import type { RunOutput } from "./output-tail.ts";
import type { SpawnError } from "./spawn-error.ts";

/** How one run ended. Every variant has the run's duration in milliseconds. */
export type RunOutcome =
  /**
   * The process ended on its own (or by a signal nobody here sent): exactly one of `code` and
   * `signal` is non-null. A shell command that is not found or not executable ends here, with
   * the shell's codes 127 and 126.
   */
  | {
      readonly kind: "exited";
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
      readonly durationMs: number;
      readonly output: RunOutput;
    }
  /** It ran longer than its timeout; its process group was ended. */
  | {
      readonly kind: "timeout";
      readonly durationMs: number;
      readonly output: RunOutput;
    }
  /** `ProcessRun.kill` ended it, for `reason`, before it exited. */
  | {
      readonly kind: "killed";
      readonly reason: string;
      readonly durationMs: number;
      readonly output: RunOutput;
    }
  /** It could not be started; nothing ran. */
  | {
      readonly kind: "spawn-failed";
      readonly error: SpawnError;
      readonly durationMs: number;
    };

/** True for the only successful outcome: the process exited with code 0. */
export function succeeded(outcome: RunOutcome): boolean {
  return outcome.kind === "exited" && outcome.code === 0;
}

/** A short human-readable account of an outcome, e.g. for a `handler-failed` event's details. */
export function describeOutcome(outcome: RunOutcome): string {
  switch (outcome.kind) {
    case "exited":
      return outcome.signal !== null ? `ended by ${outcome.signal}` : `exited with code ${outcome.code}`;
    case "timeout":
      return `timed out after ${Math.round(outcome.durationMs)} ms`;
    case "killed":
      return `killed: ${outcome.reason}`;
    case "spawn-failed":
      return outcome.error.message;
  }
}
