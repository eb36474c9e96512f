/**
 * Polling helpers shared by the multi-process tests: wait for a condition, read the
 * committed event log, check members are up.
 */
import type { ControlApi } from "../../src/control-types.ts";

/** A committed event as tests read it. */
export interface TestEvent {
  id: number;
  term: number;
  type: string;
  member: string | null;
  details: Record<string, unknown>;
}

/** Poll `fn` every 100 ms until it returns something other than undefined; throw after `timeoutMs`. */
export async function until<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last instanceof Error ? `: ${last.message}` : ""}`);
}

/** Committed events after `since`. */
export async function eventsAfter(api: ControlApi, since = 0): Promise<TestEvent[]> {
  return (await api.events(since, "", 10_000)).eventsJson.map((j) => JSON.parse(j) as TestEvent);
}

/** Resolves true when every named member is up, else undefined (for {@link until}). */
export async function membersUp(api: ControlApi, names: readonly string[]): Promise<true | undefined> {
  const { members } = await api.members();
  return names.every((n) => members.find((m) => m.name === n)?.status === "up") ? true : undefined;
}
