/**
 * `conclave handlers test HANDLER [--event ID]`: run a configured handler here, once, with
 * exactly the environment and standard input the leader gives it for a committed event
 * (built by the contract's `handlerInvocation`, as the leader builds them, over the same few
 * variables of this shell's environment, `inheritedHandlerEnv`), or for a synthetic
 * event when no id is given. `CONCLAVE_DRY_RUN=1`; nothing is recorded in the cluster. This is
 * gossipcheck's `local-check`, for handlers.
 *
 * For a committed event the attempt, the fence and the covered events are those of the pair's
 * latest recorded handler-started (so a dry run after a real run sees what that run saw);
 * for an event never run yet, attempt 1 fenced by the event's own term and id.
 */
import type { HandlerConfig } from "../config/node-config.ts";
import type { Event } from "../contract/events.ts";
import { DEFAULT_CLUSTER_NAME, handlerInvocation, inheritedHandlerEnv } from "../contract/handler-env.ts";
import type { ControlApi } from "../control/control-types.ts";
import { runProcessGroup } from "../process/process-run.ts";
import type { RunOutcome } from "../process/run-outcome.ts";
import { UsageError } from "./program.ts";

/** Events asked for per call while looking for the pair's handler-started. */
const PAGE = 1000;

/** One dry run's input and outcome. */
export interface DryRun {
  readonly handler: string;
  readonly event: Event;
  readonly env: Record<string, string>;
  readonly stdin: string;
  readonly outcome: RunOutcome;
}

/** The committed event `id`. @throws UsageError when the log has no such event. */
async function committedEvent(api: ControlApi, id: number): Promise<Event> {
  const { eventsJson } = await api.events(id - 1, "", 1);
  const e = eventsJson[0] ? (JSON.parse(eventsJson[0]) as Event) : undefined;
  if (!e || e.id !== id) throw new UsageError(`event ${id} is not in the cluster's event log`);
  return e;
}

/** The latest handler-started of `handler` that covers event `id`, if any. */
async function latestStart(api: ControlApi, id: number, handler: string): Promise<Event | undefined> {
  let since = id;
  let found: Event | undefined;
  for (;;) {
    const { eventsJson } = await api.events(since, "handler-started", PAGE);
    for (const line of eventsJson) {
      const e = JSON.parse(line) as Event;
      since = e.id;
      const covers = Array.isArray(e.details.covers) ? (e.details.covers as unknown[]) : [e.details.event];
      if (e.details.handler === handler && covers.includes(id)) found = e;
    }
    if (eventsJson.length < PAGE) return found;
  }
}

/** A synthetic event of the handler's first event type, about the first member if any. */
function syntheticEvent(h: HandlerConfig, member: string | null): Event {
  return {
    id: 0,
    term: 0,
    time: new Date().toISOString(),
    type: h.on[0]!,
    member,
    service: null,
    details: { synthetic: true },
    hash: "",
  };
}

/**
 * Build the run's input from the cluster's committed state and run `h` here once.
 * @throws UsageError for an unknown event id.
 */
export async function dryRunHandler(
  api: ControlApi,
  h: HandlerConfig,
  eventId: number | null,
): Promise<DryRun> {
  const { members } = await api.members();
  let event: Event;
  let covers: number[];
  let attempt = 1;
  let fence: { term: number; index: number };
  if (eventId === null) {
    event = syntheticEvent(h, members[0]?.name ?? null);
    covers = [0];
    fence = { term: 0, index: 0 };
  } else {
    const asked = await committedEvent(api, eventId);
    const start = await latestStart(api, eventId, h.name);
    if (start) {
      const newest = Number(start.details.event);
      event = newest === asked.id ? asked : await committedEvent(api, newest);
      covers = Array.isArray(start.details.covers) ? (start.details.covers as number[]) : [event.id];
      attempt = Number(start.details.attempt);
      fence = { term: start.term, index: start.id };
    } else {
      event = asked;
      covers = [asked.id];
      fence = { term: asked.term, index: asked.id };
    }
  }
  const { env, stdin } = handlerInvocation({
    event,
    covers,
    handler: h.name,
    attempt,
    fence,
    members,
    cluster: DEFAULT_CLUSTER_NAME,
    dryRun: true,
  });
  // The environment the leader gives the run: PATH, HOME and the locale of this shell, no more.
  const outcome = await runProcessGroup({
    run: h.run,
    baseEnv: inheritedHandlerEnv(process.env),
    env,
    stdin,
    timeoutMs: h.timeoutMs,
  }).done;
  return { handler: h.name, event, env, stdin, outcome };
}
