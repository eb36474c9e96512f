/**
 * The handler contract of docs/handler-contract.md as types and pure builders: the
 * `CONCLAVE_*` variables a handler is started with, the few variables it keeps from the
 * agent's environment, and the JSON document on its standard input.
 * The leader produces them (elector/leader/handler-attempt.ts); the shipped handlers in
 * `handlers/` and every operator's script rely on them, so this file changes only with docs/.
 *
 * Like the rest of `contract/` it imports nothing but `contract/`: no runtime code, no Node API.
 */
import type { Event, EventType } from "./events.ts";
import type { MemberView } from "./member-view.ts";

// ---------------------------------------------------------------------------------------------
// The environment

/** `CONCLAVE_CLUSTER` (and the cluster name on every peer message): always this today. */
export const DEFAULT_CLUSTER_NAME = "conclave";

/** The names of the variables {@link handlerEnvironment} sets, as docs/handler-contract.md spells them. */
export const HANDLER_ENV_NAMES = [
  "CONCLAVE_EVENT",
  "CONCLAVE_EVENT_ID",
  "CONCLAVE_TERM",
  "CONCLAVE_FENCE",
  "CONCLAVE_ATTEMPT",
  "CONCLAVE_HANDLER",
  "CONCLAVE_MEMBER",
  "CONCLAVE_MEMBER_ADDRESS",
  "CONCLAVE_SERVICE",
  "CONCLAVE_CLUSTER",
  "CONCLAVE_COVERS",
  "CONCLAVE_DRY_RUN",
] as const;

/** One of {@link HANDLER_ENV_NAMES}. */
export type HandlerEnvName = (typeof HANDLER_ENV_NAMES)[number];

/** The whole `CONCLAVE_*` environment of one attempt: every name set, absent values empty. */
export type HandlerEnvironment = Record<HandlerEnvName, string>;

/** What {@link handlerEnvironment} needs to describe one attempt. */
export interface HandlerEnvironmentInput {
  /** The committed event the handler runs for: its log index (`id`) and `type`. */
  readonly event: { readonly id: number; readonly type: EventType };
  /** The handler's name (`handlers[].name`). */
  readonly handler: string;
  /** 1 for the first run of this (event, handler) pair, one more for each run after it. */
  readonly attempt: number;
  /** The term of the leader running the handler. */
  readonly term: number;
  /**
   * The fencing token: the term and log index of this attempt's committed `handler-started`
   * entry. Later attempts (and later leaders) have larger (term, index), compared as numbers
   * part by part; a handler can refuse work fenced below one it has already seen.
   */
  readonly fence: { readonly term: number; readonly index: number };
  /** The member the event is about, if any. */
  readonly member?: string | null | undefined;
  /** That member's address, if known. */
  readonly memberAddress?: string | null | undefined;
  /** The service the event is about, if any. */
  readonly service?: string | null | undefined;
  /** The cluster's name or identity, if any. */
  readonly cluster?: string | null | undefined;
  /**
   * The ids of every event this run handles, in commit order, ending with `event.id`: just that
   * one for a `mode: each` handler, all the events that waited for a `mode: latest` run.
   * `[event.id]` when absent.
   */
  readonly covers?: readonly number[] | undefined;
  /** `conclave handlers test`: nothing the run does is recorded (`CONCLAVE_DRY_RUN=1`). */
  readonly dryRun?: boolean | undefined;
}

/**
 * {@link handlerEnvironment} was given a number that would make a meaningless variable: a bug
 * in the caller, never a handler's fault.
 */
export class HandlerEnvironmentError extends Error {
  override readonly name = "HandlerEnvironmentError";
}

/**
 * The `CONCLAVE_*` variables of the handler contract (docs/handler-contract.md) for one attempt: every name of
 * {@link HANDLER_ENV_NAMES}, always set, an empty string where the value is absent (so a
 * variable inherited from the leader's own environment can never leak through).
 * `CONCLAVE_FENCE` is `TERM:INDEX`.
 * @throws HandlerEnvironmentError when a number is not a non-negative safe integer or the
 *   attempt is below 1: a wrong fence would silently defeat fencing.
 */
export function handlerEnvironment(input: HandlerEnvironmentInput): HandlerEnvironment {
  const count = (what: string, n: number, min: number): string => {
    if (!Number.isSafeInteger(n) || n < min) {
      throw new HandlerEnvironmentError(
        `handler environment: ${what} must be an integer >= ${min}, got ${n}`,
      );
    }
    return String(n);
  };
  return {
    CONCLAVE_EVENT: input.event.type,
    CONCLAVE_EVENT_ID: count("event id", input.event.id, 0),
    CONCLAVE_TERM: count("term", input.term, 0),
    CONCLAVE_FENCE: `${count("fence term", input.fence.term, 0)}:${count("fence index", input.fence.index, 0)}`,
    CONCLAVE_ATTEMPT: count("attempt", input.attempt, 1),
    CONCLAVE_HANDLER: input.handler,
    CONCLAVE_MEMBER: input.member ?? "",
    CONCLAVE_MEMBER_ADDRESS: input.memberAddress ?? "",
    CONCLAVE_SERVICE: input.service ?? "",
    CONCLAVE_CLUSTER: input.cluster ?? "",
    CONCLAVE_COVERS: (input.covers ?? [input.event.id])
      .map((id) => count("covered event id", id, 0))
      .join(","),
    CONCLAVE_DRY_RUN: input.dryRun ? "1" : "",
  };
}

/**
 * The only variables a handler run takes from the agent's own environment, each when it is
 * set there: where programs are (`PATH`), the locale (`LANG`, `LC_ALL`) and `HOME` (so `ssh`,
 * `git` or `curl` in a handler find their own configuration and known hosts; it names a
 * directory and holds no secret). Nothing else of the agent's environment reaches a handler:
 * not a secret some unit file gave the agent, not `CONCLAVE_*` variables of the agent itself.
 */
export const HANDLER_INHERITED_NAMES = ["PATH", "HOME", "LANG", "LC_ALL"] as const;

/**
 * The part of `agentEnv` a handler run is started with ({@link HANDLER_INHERITED_NAMES} that
 * are set); the run's `CONCLAVE_*` variables ({@link handlerEnvironment}) are laid over it.
 */
export function inheritedHandlerEnv(
  agentEnv: Readonly<Record<string, string | undefined>>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of HANDLER_INHERITED_NAMES) {
    const v = agentEnv[name];
    if (v !== undefined) env[name] = v;
  }
  return env;
}

// ---------------------------------------------------------------------------------------------
// The standard input

/**
 * The one JSON document a handler reads on standard input (then stdin is closed): the event it
 * runs for, as `conclave events --json` prints it, and the committed view of every member at
 * the moment the attempt started. Both shapes are declared once, in contract/events.ts and
 * contract/member-view.ts.
 */
export interface HandlerStdin {
  /** The committed event the handler runs for (the newest it covers). */
  readonly event: Event;
  /** The ids of every event the run handles, as `CONCLAVE_COVERS` lists them. */
  readonly covers: readonly number[];
  /** Every member the committed state knows, in its order. */
  readonly members: readonly MemberView[];
}

// ---------------------------------------------------------------------------------------------
// One run's whole input

/** What {@link handlerInvocation} needs. */
export interface HandlerInvocationInput {
  /** The newest event the run handles (`CONCLAVE_EVENT_ID`, `event` on stdin). */
  readonly event: Event;
  /** Every event id the run handles, in commit order, ending with `event.id`. */
  readonly covers: readonly number[];
  /** The handler's name. */
  readonly handler: string;
  /** The attempt number (1 for the first run), `CONCLAVE_ATTEMPT`. */
  readonly attempt: number;
  /** The term and log index of the attempt's handler-started entry: the fence. */
  readonly fence: { readonly term: number; readonly index: number };
  /** The committed member view at the start of the run. */
  readonly members: readonly MemberView[];
  /** `CONCLAVE_CLUSTER`. */
  readonly cluster: string;
  /** A dry run (`conclave handlers test`): `CONCLAVE_DRY_RUN=1`. */
  readonly dryRun?: boolean | undefined;
}

/**
 * Exactly what a handler gets for one run: its environment and its standard input (the
 * {@link HandlerStdin} document as JSON). The leader and `conclave handlers test` both build
 * a run's input here, so a dry run sees what the real run saw.
 * @throws HandlerEnvironmentError as {@link handlerEnvironment} does.
 */
export function handlerInvocation(o: HandlerInvocationInput): { env: HandlerEnvironment; stdin: string } {
  const e = o.event;
  const member = e.member ? o.members.find((m) => m.name === e.member) : undefined;
  const env = handlerEnvironment({
    event: { id: e.id, type: e.type },
    handler: o.handler,
    attempt: o.attempt,
    term: o.fence.term,
    fence: o.fence,
    member: e.member,
    memberAddress: member?.address,
    service: e.service,
    cluster: o.cluster,
    covers: o.covers,
    dryRun: o.dryRun,
  });
  const doc: HandlerStdin = { event: e, covers: o.covers, members: o.members };
  return { env, stdin: JSON.stringify(doc) };
}
