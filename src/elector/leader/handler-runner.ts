/**
 * Exactly-once handlers, on the leader (docs/handler-contract.md).
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
 * (check-quorum: within one election timeout) or when its process dies (the guard in
 * handler-attempt.ts), both before the new leader's wait ends.
 *
 * Seams: `propose` (commit an event), `now` and `timers` (the clock the waits run on),
 * `spawner` (how processes start). With fakes of all four the runner runs in one process.
 */
import type { Logger } from "pino";
import type { NodeId } from "../../../raft/index.ts";
import type { HandlerConfig } from "../../config/node-config.ts";
import type { JsonObject } from "../../contract/canonical-json.ts";
import type { Event } from "../../contract/events.ts";
import { runKey } from "../../coordinator/handler-runs-state.ts";
import type { CoordinatorState } from "../../coordinator/state-machine.ts";
import type { ProcessRun } from "../../process/process-run.ts";
import type { ProcessSpawner } from "../../process/process-spawner.ts";
import type { RunOutcome } from "../../process/run-outcome.ts";
import type { CommitEvent, UnstampedEvent } from "../event-stamp.ts";
import { outcomeDetails, startHandlerAttempt } from "./handler-attempt.ts";
import { LeaderTenure, type LeaderRole } from "./leader-role.ts";

/** A `conclave handlers retry` request that cannot be carried out; the message says why. */
export class HandlerRetryError extends Error {
  override readonly name = "HandlerRetryError";
}

/** The timer seam of {@link HandlerRunner} (setTimeout and clearTimeout by default). */
export interface RunnerTimers {
  /** Call `fn` once, `ms` from now on the runner's clock. */
  set(fn: () => void, ms: number): unknown;
  /** Cancel a timer `set` returned (a timer that already fired is ignored). */
  clear(handle: unknown): void;
}

/** setTimeout and clearTimeout. */
export const systemTimers: RunnerTimers = {
  set: (fn, ms) => setTimeout(fn, ms),
  clear: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Longest wait between two attempts, whatever the attempt number. */
export const MAX_RETRY_DELAY_MS = 30_000;

/** Options of {@link HandlerRunner}. */
export interface HandlerRunnerOptions {
  /** This elector's name (the `leader` of each handler-started it commits). */
  readonly self: NodeId;
  /** `CONCLAVE_CLUSTER`. */
  readonly cluster: string;
  readonly handlers: readonly HandlerConfig[];
  /** The committed state this node has applied. */
  readonly state: CoordinatorState;
  /** Commit an event; resolves with the committed event (rejects when it cannot commit). */
  readonly propose: CommitEvent;
  /** The Raft election timeout: a new leader waits twice this before re-running. */
  readonly electionTimeoutMs: number;
  /** Monotonic milliseconds; performance.now when absent. */
  readonly now?: () => number;
  /** Timers on the `now` clock; {@link systemTimers} when absent. */
  readonly timers?: RunnerTimers;
  /** First retry delay (doubled per attempt, at most {@link MAX_RETRY_DELAY_MS}). Default 1000 ms. */
  readonly retryBaseMs?: number;
  /** How handler processes start; the real spawner when absent. */
  readonly spawner?: ProcessSpawner;
  /** The process the handler guard watches; this process when absent. */
  readonly leaderPid?: number;
  readonly logger: Logger;
}

/** The leader-side orchestrator of handler runs. Inactive (runs nothing) unless this node leads. */
export class HandlerRunner implements LeaderRole {
  private readonly tenure: LeaderTenure;
  /**
   * Pairs with work in progress here (a proposal, a running process or a retry wait).
   * Invariant: a pair is started only when it is in neither this set nor {@link waiting}, so
   * this node never runs two attempts of one pair at once.
   */
  private readonly busy = new Set<string>();
  /** Pairs whose outcome is unknown, waiting until the old leader must have stepped down. */
  private readonly waiting = new Set<string>();
  private readonly running = new Map<string, ProcessRun>();
  private readonly pendingTimers = new Set<unknown>();
  private readonly now: () => number;
  private readonly timers: RunnerTimers;

  constructor(private readonly o: HandlerRunnerOptions) {
    this.now = o.now ?? (() => performance.now());
    this.timers = o.timers ?? systemTimers;
    this.tenure = new LeaderTenure(this.now);
  }

  /** Whether the runner acts (this node leads). */
  get isActive(): boolean {
    return this.tenure.active;
  }

  /** This node became leader in `term`: look at every committed event for unfinished work. */
  becameLeader(term: number): void {
    this.tenure.begin(term);
    for (const e of this.o.state.events.since(this.o.state.events.anchor.id)) this.consider(e);
  }

  /** Leadership is gone: kill every running handler at once; record nothing more. */
  lostLeadership(): void {
    if (!this.tenure.end()) return;
    for (const t of this.pendingTimers) this.timers.clear(t);
    this.pendingTimers.clear();
    this.waiting.clear();
    for (const [key, run] of this.running) {
      this.o.logger.warn({ run: key }, "leadership lost: killing the running handler");
      run.kill("leadership lost", { graceMs: 0 });
    }
    this.busy.clear();
  }

  /** A committed event (called for every event applied on this node). */
  eventCommitted(e: Event): void {
    if (this.tenure.active) this.consider(e);
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
      // Started by an earlier leader (or an earlier life of this node): outcome unknown. It
      // may still be running there until that leader has stepped down and killed it.
      const wait = this.tenure.predecessorGoneAt(this.o.electionTimeoutMs) - this.now();
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
    const t = this.timers.set(() => {
      this.pendingTimers.delete(t);
      if (this.tenure.active) fn();
    }, ms);
    this.pendingTimers.add(t);
  }

  private fields(type: UnstampedEvent["type"], e: Event, details: JsonObject): UnstampedEvent {
    return { type, member: e.member, service: e.service, details };
  }

  /** Commit handler-started for `attempt`, then run it, then record or retry. */
  private async attempt(e: Event, h: HandlerConfig, attempt: number, extra: JsonObject): Promise<void> {
    const key = runKey(e.id, h.name);
    const term = this.tenure.term;
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
    // Leadership changed while handler-started committed: the next leader owns the attempt.
    if (!this.tenure.holds(term)) return;
    const run = startHandlerAttempt({
      event: e,
      handler: h,
      attempt,
      started,
      state: this.o.state,
      cluster: this.o.cluster,
      leaderPid: this.o.leaderPid ?? process.pid,
      spawner: this.o.spawner,
      now: this.o.now,
    });
    this.running.set(key, run);
    this.o.logger.info({ run: key, attempt, pid: run.pid }, "handler started");
    const outcome = await run.done;
    if (this.running.get(key) === run) this.running.delete(key);
    if (!this.tenure.holds(term)) return; // killed on leadership loss: outcome unknown to the log
    await this.finish(e, h, attempt, outcome);
  }

  private async finish(e: Event, h: HandlerConfig, attempt: number, outcome: RunOutcome): Promise<void> {
    const key = runKey(e.id, h.name);
    const details = outcomeDetails(outcome);
    const ok = outcome.kind === "exited" && outcome.code === 0;
    if (!ok && attempt <= h.retries) {
      const delay = Math.min((this.o.retryBaseMs ?? 1000) * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
      this.o.logger.warn(
        { run: key, attempt, outcome: outcome.kind, retryInMs: delay },
        "handler failed; will retry",
      );
      // The pair stays busy through the wait, so nothing else starts it meanwhile.
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
    if (!this.tenure.active)
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
