/**
 * Exactly-once handlers, on the leader (DESIGN.md, "Handler contract").
 *
 * For each committed event and each configured handler subscribed to its type, the leader:
 *  1. commits `handler-started` (event, handler, attempt) — only then spawns the handler,
 *     with CONCLAVE_FENCE = term:index of that handler-started entry;
 *  2. on exit 0 commits `handler-succeeded`; on failure or timeout retries with backoff
 *     (each retry is a new committed handler-started), then commits `handler-failed`;
 *     outcomes carry exit code, duration and the last 4 KiB of output.
 * A leader that loses leadership kills its running handlers at once and records nothing
 * more. A new leader that finds an attempt started without an outcome does not know what
 * happened: it waits until the old leader must have stepped down (two election timeouts
 * after taking over, plus the kill grace) and runs attempt + 1 with the same event id.
 *
 * Two runs of one pair never overlap: the old leader kills its handler when it steps down
 * (check-quorum: within one election timeout) or when its process dies (the guard below),
 * both before the new leader's wait ends.
 */
import type { Logger } from "pino";
import { oldLeaderGoneAfterMs } from "../../contract/master-lease.ts";
import { memberView } from "../../coordinator/member-view.ts";
import type { NodeId } from "../../../raft/index.ts";
import type { HandlerConfig, Run } from "../../config/config.ts";
import type { Event, EventFields, JsonObject } from "../../coordinator/event-log.ts";
import {
  type HandlerOutcome,
  type HandlerRun,
  handlerEnvironment,
  type ProcessSpawner,
  runHandlerAttempt,
} from "../../process/process-group.ts";
import { runKey } from "../../coordinator/handler-runs-state.ts";
import type { CoordinatorState } from "../../coordinator/state-machine.ts";

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

function guarded(run: Run, leaderPid: number): Run {
  const argv = run.kind === "argv" ? [...run.argv] : ["/bin/sh", "-c", run.command];
  return {
    kind: "argv",
    argv: ["/bin/sh", "-c", GUARD, "conclave-handler-guard", String(leaderPid), ...argv],
  };
}

/** A `conclave handlers retry` request that cannot be carried out; the message says why. */
export class HandlerRetryError extends Error {
  override readonly name = "HandlerRetryError";
}

/** Options of {@link HandlerRunner}. */
export interface HandlerRunnerOptions {
  self: NodeId;
  cluster: string;
  handlers: readonly HandlerConfig[];
  state: CoordinatorState;
  /** Propose an event; resolves with the committed event (rejects when it cannot commit). */
  propose: (fields: EventFields) => Promise<Event>;
  /** The Raft election timeout: a new leader waits twice this before re-running. */
  electionTimeoutMs: number;
  /** Monotonic milliseconds. */
  now?: () => number;
  /** Wall clock for event times. */
  wallClock?: () => Date;
  /** First retry delay (doubled per attempt, at most 30 s). Default 1000 ms. */
  retryBaseMs?: number;
  spawner?: ProcessSpawner;
  logger: Logger;
}

/** The leader-side orchestrator of handler runs. */
export class HandlerRunner {
  private active = false;
  private term = 0;
  private leaderSince = 0;
  /** Pairs with work in progress here (a proposal, a running process or a retry wait). */
  private readonly busy = new Set<string>();
  /** Pairs whose outcome is unknown, waiting until the old leader must have stepped down. */
  private readonly waiting = new Set<string>();
  private readonly running = new Map<string, HandlerRun>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly now: () => number;

  constructor(private readonly o: HandlerRunnerOptions) {
    this.now = o.now ?? (() => performance.now());
  }

  /** This node became leader in `term`: look at every committed event for unfinished work. */
  becameLeader(term: number): void {
    this.active = true;
    this.term = term;
    this.leaderSince = this.now();
    for (const e of this.o.state.events.since(this.o.state.events.anchor.id)) this.consider(e);
  }

  /** Leadership is gone: kill every running handler at once; record nothing more. */
  lostLeadership(): void {
    if (!this.active) return;
    this.active = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.waiting.clear();
    for (const [key, run] of this.running) {
      this.o.logger.warn({ run: key }, "leadership lost: killing the running handler");
      run.kill("leadership lost", { graceMs: 0 });
    }
    this.busy.clear();
  }

  /** A committed event (called for every event applied on this node). */
  eventCommitted(e: Event): void {
    if (this.active) this.consider(e);
  }

  /** Handlers subscribed to `e` (a handler is never triggered by events about itself). */
  private subscribers(e: Event): HandlerConfig[] {
    return this.o.handlers.filter((h) => h.on.includes(e.type) && e.details.handler !== h.name);
  }

  private consider(e: Event): void {
    for (const h of this.subscribers(e)) {
      const key = runKey(e.id, h.name);
      if (this.busy.has(key) || this.waiting.has(key)) continue;
      const run = this.o.state.handlerRuns.get(e.id, h.name);
      if (run?.outcome) continue;
      if (!run) {
        void this.attempt(e, h, 1, {});
        continue;
      }
      // Started by an earlier leader (or an earlier life of this node): outcome unknown.
      const safeAt = this.leaderSince + oldLeaderGoneAfterMs(this.o.electionTimeoutMs);
      const wait = safeAt - this.now();
      if (wait > 0) {
        this.waiting.add(key);
        this.later(wait, () => {
          this.waiting.delete(key);
          this.consider(e);
        });
        continue;
      }
      void this.attempt(e, h, run.attempt + 1, { previous: "unknown: the leader running it was lost" });
    }
  }

  /** Run `fn` after `ms`, unless leadership is lost meanwhile. */
  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (this.active) fn();
    }, ms);
    this.timers.add(t);
  }

  private fields(type: EventFields["type"], e: Event, details: JsonObject): EventFields {
    return {
      time: (this.o.wallClock ?? (() => new Date()))().toISOString(),
      type,
      member: e.member,
      service: e.service,
      details,
    };
  }

  /** Commit handler-started for `attempt`, then run it, then record or retry. */
  private async attempt(e: Event, h: HandlerConfig, attempt: number, extra: JsonObject): Promise<void> {
    const key = runKey(e.id, h.name);
    const term = this.term;
    this.busy.add(key);
    let started: Event;
    try {
      started = await this.o.propose(
        this.fields("handler-started", e, {
          event: e.id,
          handler: h.name,
          attempt,
          leader: this.o.self,
          ...extra,
        }),
      );
    } catch (err) {
      this.busy.delete(key);
      this.o.logger.warn({ err, run: key, attempt }, "could not record handler-started; not running it");
      return;
    }
    if (!this.active || this.term !== term) return;
    const members = this.o.state.members.list();
    const member = e.member ? this.o.state.members.get(e.member) : undefined;
    const run = runHandlerAttempt({
      run: guarded(h.run, process.pid),
      env: handlerEnvironment({
        event: { id: e.id, type: e.type },
        handler: h.name,
        attempt,
        term: started.term,
        fence: { term: started.term, index: started.id },
        ...(e.member ? { member: e.member } : {}),
        ...(member?.address ? { memberAddress: member.address } : {}),
        ...(e.service ? { service: e.service } : {}),
        cluster: this.o.cluster,
      }),
      stdin: JSON.stringify({
        event: e,
        members: members.map((m) => memberView(m, this.o.state.masters)),
      }),
      timeoutMs: h.timeoutMs,
      ...(this.o.spawner ? { spawner: this.o.spawner } : {}),
    });
    this.running.set(key, run);
    this.o.logger.info({ run: key, attempt, pid: run.pid }, "handler started");
    const outcome = await run.done;
    this.running.delete(key);
    if (!this.active || this.term !== term) return; // killed on leadership loss: outcome unknown to the log
    await this.finish(e, h, attempt, outcome);
  }

  private async finish(e: Event, h: HandlerConfig, attempt: number, outcome: HandlerOutcome): Promise<void> {
    const key = runKey(e.id, h.name);
    const details = outcomeDetails(outcome);
    const ok = outcome.kind === "exited" && outcome.code === 0;
    if (!ok && attempt <= h.retries) {
      const delay = Math.min((this.o.retryBaseMs ?? 1000) * 2 ** (attempt - 1), 30_000);
      this.o.logger.warn(
        { run: key, attempt, outcome: outcome.kind, retryInMs: delay },
        "handler failed; will retry",
      );
      this.later(delay, () => void this.attempt(e, h, attempt + 1, { previous: details }));
      return;
    }
    try {
      await this.o.propose(
        this.fields(ok ? "handler-succeeded" : "handler-failed", e, {
          event: e.id,
          handler: h.name,
          attempt,
          ...details,
        }),
      );
    } catch (err) {
      this.o.logger.warn(
        { err, run: key },
        "could not record the handler outcome; the next leader will retry",
      );
    } finally {
      this.busy.delete(key);
    }
  }

  /**
   * `conclave handlers retry`: run a pair whose run has a final outcome (normally failed)
   * again, as the next attempt, recorded with `retry: true`. Returns the handlers started.
   * @throws HandlerRetryError when this node is not acting as leader, the event is unknown,
   *   or no such handler applies.
   */
  retry(eventId: number, handler: string): string[] {
    if (!this.active)
      throw new HandlerRetryError("this node is not (yet) acting as leader; retry in a moment");
    const e = this.o.state.events.get(eventId);
    if (!e) throw new HandlerRetryError(`event ${eventId} is not in the event log`);
    const subs = this.subscribers(e).filter((h) => handler === "" || h.name === handler);
    if (handler !== "" && subs.length === 0) {
      throw new HandlerRetryError(
        `handler "${handler}" is not configured for ${e.type} events on the leader`,
      );
    }
    const started: string[] = [];
    for (const h of subs) {
      const run = this.o.state.handlerRuns.get(e.id, h.name);
      const key = runKey(e.id, h.name);
      if (this.busy.has(key) || this.waiting.has(key)) continue;
      if (run && run.outcome === null) continue;
      if (run?.outcome === "succeeded") continue; // only failed runs are retried
      void this.attempt(e, h, (run?.attempt ?? 0) + 1, { retry: true });
      started.push(h.name);
    }
    return started;
  }

  /** Kill everything (the node is stopping). */
  stop(): void {
    this.lostLeadership();
  }
}

/** Exit code, duration and output of an attempt, as event details. */
function outcomeDetails(o: HandlerOutcome): JsonObject {
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

function outputDetails(out: { text: string; truncated: boolean; totalBytes: number }): JsonObject {
  return { output: out.text, output_truncated: out.truncated, output_bytes: out.totalBytes };
}
