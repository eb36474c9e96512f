/**
 * Small helpers for the single-process tests that wait on real scripts and processes: poll a
 * condition with a short interval, and ask whether a process is still alive.
 */
import type { ExecutionContext } from "ava";
import { processRuns } from "../../src/process/process-group-state.ts";

/** Poll `cond` every 5 ms until it holds (scripts run in real time); fails the test (and throws) after 5 s. */
export async function waitFor(t: ExecutionContext, what: string, cond: () => boolean): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) {
      t.fail(`timed out waiting for ${what}`);
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Whether a process with this pid runs (a zombie, which signal 0 still reaches, does not). */
export function alive(pid: number): boolean {
  return processRuns(pid);
}
