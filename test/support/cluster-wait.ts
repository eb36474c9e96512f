/**
 * Polling helpers shared by the multi-process tests: wait for a condition, read the
 * committed event log, check members are up.
 */
import type { ExecutionContext } from "ava";
import type { ControlApi } from "../../src/control/control-types.ts";
import { ProcessCluster, type ProcessClusterOptions } from "./process-cluster.ts";

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

/** What {@link clusterUp} does before the start, and which elector `api` talks to. */
export interface ClusterUpSetup {
  /** Called after the nodes' files are written, before any starts (handler scripts, `setElectorExtra`). */
  readonly prepare?: (c: ProcessCluster) => void;
  /** The elector `api` is a client of: a name, or `not-leader` (one that survives the leader's fault); the first elector by default. */
  readonly client?: string;
}

/**
 * Create and start a cluster, wait for a leader and for every member to be up, and tear it
 * down with the test. `api` is a client of the first elector unless `setup.client` says
 * otherwise; `leader` is the first leader elected.
 */
export async function clusterUp(
  t: ExecutionContext,
  o: ProcessClusterOptions,
  setup: ClusterUpSetup = {},
): Promise<{ c: ProcessCluster; api: ControlApi; leader: string }> {
  const c = await ProcessCluster.create(o);
  t.teardown(() => c.destroy());
  setup.prepare?.(c);
  c.startAll();
  const leader = await c.waitForLeader();
  const target =
    setup.client === "not-leader" ? o.names.find((n) => n !== leader)! : (setup.client ?? o.names[0]!);
  const api = c.client(target, 10_000);
  t.teardown(() => api.close());
  const members = o.members ?? [];
  if (members.length > 0) await until("members up", () => membersUp(api, members));
  return { c, api, leader };
}

/** A `handlers:` block with one handler, for `setElectorExtra`. */
export function handlerYaml(h: {
  name: string;
  on: readonly string[];
  run: string;
  timeout: string;
  retries?: number;
}): string {
  const retries = h.retries === undefined ? "" : `    retries: ${h.retries}\n`;
  return `handlers:\n  - name: ${h.name}\n    on: [${h.on.join(", ")}]\n    run: ${h.run}\n    timeout: ${h.timeout}\n${retries}`;
}
