/**
 * The handler runner in one process, for the runner's unit tests: a fake node commits what the
 * runner proposes into a real CoordinatorState (through the real event committer), a manual
 * clock drives its waits, a fake spawner hands out processes the test ends by hand, and
 * quorum confirmations are answered at once or held for the test to answer.
 */
import pino from "pino";
import {
  handlerLeaseMs,
  handlerRenewEveryMs,
  handlerRerunWaitMs,
} from "../../../../src/contract/handler-lease.ts";
import { HANDLER_DEFAULTS, type HandlerConfig } from "../../../../src/config/node-config.ts";
import type { Event } from "../../../../src/contract/events.ts";
import { eventCommitter } from "../../../../src/elector/event-stamp.ts";
import { HandlerRunner, type RunEnded } from "../../../../src/elector/leader/handler-runner.ts";
import type { RunGuard } from "../../../../src/process/lease-watchdog.ts";
import { FakeNode, FakeSpawner, FIXED_TIME, ManualClock } from "../fakes.ts";

export const ELECTION_MS = 1000;
/** How long a new leader waits before re-running an attempt of unknown outcome. */
export const STEP_DOWN_MS = handlerRerunWaitMs(ELECTION_MS);
export const LEASE_MS = handlerLeaseMs(ELECTION_MS);
export const RENEW_MS = handlerRenewEveryMs(ELECTION_MS);
/** The fake boot clock: the manual clock's milliseconds, in centiseconds, from 1,000,000. */
export const bootCs = (clockMs: number) => 1_000_000 + Math.floor(clockMs / 10);

/** A handler on member-down events, run as a shell command. */
export function handler(extra: Partial<HandlerConfig> = {}): HandlerConfig {
  return {
    name: "notify",
    on: ["member-down"],
    run: { kind: "shell", command: "notify-oncall" },
    timeoutMs: 60_000,
    retries: 0,
    concurrency: HANDLER_DEFAULTS.concurrency,
    mode: HANDLER_DEFAULTS.mode,
    ...extra,
  };
}

export function setup(o: { handlers?: HandlerConfig[]; retryBaseMs?: number; runGuard?: RunGuard } = {}) {
  const node = new FakeNode("a");
  const clock = new ManualClock();
  const spawner = new FakeSpawner();
  /** Quorum confirmations asked for; each is answered by the test (or by `autoConfirm`). */
  const confirms: { askedAt: number; resolve: (t: number) => void; reject: (e: Error) => void }[] = [];
  let autoConfirm = true;
  /** Every run the runner reported ended (what the elector turns into the run-duration histogram). */
  const ended: RunEnded[] = [];
  const runner = new HandlerRunner({
    self: "a",
    cluster: "test-cluster",
    handlers: o.handlers ?? [handler()],
    state: node.state,
    propose: eventCommitter({ node, clock: () => FIXED_TIME }),
    electionTimeoutMs: ELECTION_MS,
    confirmLeadership: () =>
      new Promise<number>((resolve, reject) => {
        const askedAt = clock.now();
        if (autoConfirm) resolve(askedAt);
        else confirms.push({ askedAt, resolve, reject });
      }),
    now: clock.now,
    timers: clock.timers,
    bootDeadline: (ms) => bootCs(clock.now() + ms),
    ...(o.retryBaseMs !== undefined ? { retryBaseMs: o.retryBaseMs } : {}),
    spawner,
    ...(o.runGuard ? { runGuard: o.runGuard } : {}),
    onRunEnded: (r) => ended.push(r),
    logger: pino({ level: "silent" }),
  });
  // As the elector does: every committed event goes to the runner.
  node.onEvent((e) => runner.eventCommitted(e));
  const join = (member: string, address: string) =>
    node.commitEvent({
      type: "member-joined",
      member,
      service: null,
      details: { address, services: ["web"], checks: {} },
    });
  const down = (member: string, term?: number) =>
    node.commitEvent({ type: "member-down", member, service: null, details: { silent_ms: 3000 } }, term);
  /** Committed events of `type` about event `id`, in commit order. */
  const about = (type: Event["type"], id: number) =>
    node.events.filter((e) => e.type === type && e.details.event === id);
  /** The handler-* event types in commit order. */
  const handlerTypes = () => node.events.map((e) => e.type).filter((t) => t.startsWith("handler-"));
  const holdConfirmations = () => (autoConfirm = false);
  return {
    node,
    clock,
    spawner,
    runner,
    join,
    down,
    about,
    handlerTypes,
    confirms,
    holdConfirmations,
    ended,
  };
}

export const outcomeOf = (
  s: ReturnType<typeof setup>,
  type: "handler-succeeded" | "handler-failed",
  attempt: number,
) => s.node.event((e) => e.type === type && e.details.attempt === attempt);
