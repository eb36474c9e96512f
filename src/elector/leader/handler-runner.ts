/**
 * Exactly-once handlers, on the leader (docs/handler-contract.md).
 *
 * For each committed event and each configured handler subscribed to its type, the leader:
 *  1. queues the event in the handler's lane (handler-lane.ts), in commit order; runs of one
 *     handler start in that order, at most `concurrency` at once, and a `mode: latest` run
 *     covers every event waiting for it;
 *  2. commits `handler-started` (event, handler, attempt, and `covers` for `mode: latest`) —
 *     only then spawns the handler, with CONCLAVE_FENCE = term:index of that entry;
 *  3. on exit 0 commits `handler-succeeded`; on failure or timeout retries with backoff
 *     (each retry is a new committed handler-started, and keeps the batch's slot), then
 *     commits `handler-failed`; outcomes carry exit code, duration and the last 4 KiB of output.
 *
 * Runs never overlap, even when this leader is paused, blocked or cut off: each run holds a
 * lease (contract/handler-lease.ts). It starts with a lease from the commit of its
 * handler-started entry; while runs are in flight the leader asks a quorum to confirm its
 * leadership every L/4 and renews every run's lease to (time asked + L). The lease watchdog
 * in the run's own process group (process/lease-watchdog.ts) kills the group when a deadline
 * passes or this process dies. A leader that loses leadership kills its runs at once and
 * records nothing more. A new leader that finds an attempt started without an outcome waits
 * {@link handlerRerunWaitMs} after taking over, by when every run of its predecessor is dead,
 * and runs attempt + 1.
 *
 * Seams: `propose` (commit an event), `confirmLeadership` (a quorum round), `now`, `timers`
 * and `bootDeadline` (the clocks), `spawner` (how processes start), `runGuard` (how a run is
 * put under its lease). With fakes of all of them
 * the runner runs in one process.
 */
import type { Logger } from "pino";
import type { NodeId } from "../../../raft/index.ts";
import type { HandlerConfig } from "../../config/node-config.ts";
import type { JsonObject } from "../../contract/canonical-json.ts";
import type { Event } from "../../contract/events.ts";
import { handlerLeaseMs, handlerRenewEveryMs, handlerRerunWaitMs } from "../../contract/handler-lease.ts";
import type { CoordinatorState } from "../../coordinator/state-machine.ts";
import { bootDeadlineCs, renewalLine, type RunGuard } from "../../process/lease-watchdog.ts";
import type { ProcessRun } from "../../process/process-run.ts";
import type { ProcessSpawner } from "../../process/process-spawner.ts";
import type { RunOutcome } from "../../process/run-outcome.ts";
import { handlerRunOutcome, type HandlerRunOutcome } from "../../status/latency.ts";
import type { CommitEvent, UnstampedEvent } from "../event-stamp.ts";
import { outcomeDetails, startHandlerAttempt } from "./handler-attempt.ts";
import { HandlerLane, type LaneItem } from "./handler-lane.ts";
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

/** How one run ended, for metrics. */
export interface RunEnded {
  readonly handler: string;
  /** `succeeded` for exit 0, otherwise how it failed. */
  readonly outcome: HandlerRunOutcome;
  readonly durationMs: number;
}

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
  /**
   * Ask a quorum to confirm that this node still leads (a ReadIndex round). Resolves with the
   * time, on the `now` clock, at which it was asked; rejects when it cannot be confirmed.
   */
  readonly confirmLeadership: () => Promise<number>;
  /** The Raft election timeout E: the lease is derived from it (contract/handler-lease.ts). */
  readonly electionTimeoutMs: number;
  /** Monotonic milliseconds; performance.now when absent. */
  readonly now?: () => number;
  /** Timers on the `now` clock; {@link systemTimers} when absent. */
  readonly timers?: RunnerTimers;
  /** The boot-clock deadline `ms` from now, in centiseconds (the watchdog's clock). */
  readonly bootDeadline?: (ms: number) => number;
  /** First retry delay (doubled per attempt, at most {@link MAX_RETRY_DELAY_MS}). Default 1000 ms. */
  readonly retryBaseMs?: number;
  /** How handler processes start; the real spawner when absent. */
  readonly spawner?: ProcessSpawner;
  /** How each run is put under its lease; `leaseGuardedRun` (the lease watchdog) when absent. */
  readonly runGuard?: RunGuard;
  /** Told of every run that ended while this node still led (metrics). */
  readonly onRunEnded?: (r: RunEnded) => void;
  readonly logger: Logger;
}

/** The leader-side orchestrator of handler runs. Inactive (runs nothing) unless this node leads. */
export class HandlerRunner implements LeaderRole {
  private readonly tenure: LeaderTenure;
  /** One lane per configured handler, by name. */
  private readonly lanes = new Map<string, HandlerLane>();
  /** Runs in flight, whose leases this node renews. */
  private readonly running = new Set<ProcessRun>();
  private readonly pendingTimers = new Set<unknown>();
  /** A quorum confirmation is in flight (at most one at a time). */
  private renewing = false;
  /** The scheduled renewal round's timer, if any. */
  private renewTimer: unknown = null;
  /** Lanes with a wake-up scheduled for the rerun wait. */
  private readonly wakeups = new Set<string>();
  private readonly now: () => number;
  private readonly timers: RunnerTimers;
  private readonly bootDeadline: (ms: number) => number;
  private readonly leaseMs: number;

  constructor(private readonly o: HandlerRunnerOptions) {
    this.now = o.now ?? (() => performance.now());
    this.timers = o.timers ?? systemTimers;
    this.bootDeadline = o.bootDeadline ?? bootDeadlineCs;
    this.tenure = new LeaderTenure(this.now);
    this.leaseMs = handlerLeaseMs(o.electionTimeoutMs);
    for (const h of o.handlers) this.lanes.set(h.name, new HandlerLane(h));
  }

  /** Whether the runner acts (this node leads). */
  get isActive(): boolean {
    return this.tenure.active;
  }

  /** When a pair started by an earlier leader may run again: every run of that leader is dead. */
  private get rerunAt(): number {
    return this.tenure.since + handlerRerunWaitMs(this.o.electionTimeoutMs);
  }

  /** This node became leader in `term`: queue every committed event with unfinished work. */
  becameLeader(term: number): void {
    this.tenure.begin(term);
    for (const e of this.o.state.events.since(this.o.state.events.anchor.id)) this.queue(e);
    for (const lane of this.lanes.values()) this.pump(lane);
  }

  /** Leadership is gone: kill every running handler at once; record nothing more. */
  lostLeadership(): void {
    if (!this.tenure.end()) return;
    for (const t of this.pendingTimers) this.timers.clear(t);
    this.pendingTimers.clear();
    this.wakeups.clear();
    this.renewTimer = null;
    for (const run of this.running) {
      this.o.logger.warn({ pid: run.pid }, "leadership lost: killing the running handler");
      run.kill("leadership lost", { graceMs: 0 });
    }
    this.running.clear();
    for (const lane of this.lanes.values()) lane.clear();
  }

  /** A committed event (called for every event applied on this node). */
  eventCommitted(e: Event): void {
    if (!this.tenure.active) return;
    for (const lane of this.queue(e)) this.pump(lane);
  }

  /** Lanes of the handlers subscribed to `e` (a handler is never triggered by events about itself). */
  private subscribers(e: Event): HandlerLane[] {
    const out: HandlerLane[] = [];
    for (const lane of this.lanes.values()) {
      const h = lane.handler;
      if (h.on.includes(e.type) && e.details.handler !== h.name) out.push(lane);
    }
    return out;
  }

  /** Add `e` to the lane of each subscribed handler that has no final outcome for it. */
  private queue(e: Event): HandlerLane[] {
    const lanes = this.subscribers(e).filter(
      (l) => !this.o.state.handlerRuns.get(e.id, l.handler.name)?.outcome,
    );
    for (const lane of lanes) lane.add(e.id);
    return lanes;
  }

  /** Start batches while the lane has free slots and work that may start now. */
  private pump(lane: HandlerLane): void {
    const h = lane.handler;
    while (this.tenure.active && lane.ready) {
      let unknown = false;
      let emptied = false;
      for (const item of lane.peek()) {
        const rec = this.o.state.handlerRuns.get(item.id, h.name);
        if (rec?.outcome && !item.retry) {
          lane.drop(item.id); // covered or finished since it was queued
          emptied = true;
        } else if (rec && rec.outcome === null) unknown = true;
      }
      if (emptied) continue;
      if (unknown && this.now() < this.rerunAt) {
        // Started by an earlier leader (or an earlier life of this node): it may still be
        // running there until its lease has run out. Later events wait behind it.
        if (!this.wakeups.has(h.name)) {
          this.wakeups.add(h.name);
          this.later(this.rerunAt - this.now(), () => {
            this.wakeups.delete(h.name);
            this.pump(lane);
          });
        }
        return;
      }
      const batch = lane.take();
      if (!batch) return;
      void this.runBatch(lane, batch);
    }
  }

  /** Run `fn` after `ms`, unless leadership is lost meanwhile. Returns the timer. */
  private later(ms: number, fn: () => void): unknown {
    const t = this.timers.set(() => {
      this.pendingTimers.delete(t);
      if (this.tenure.active) fn();
    }, ms);
    this.pendingTimers.add(t);
    return t;
  }

  /** A promise resolved after `ms`; never resolved when leadership is lost first. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.later(ms, resolve));
  }

  private fields(type: UnstampedEvent["type"], e: Event, details: JsonObject): UnstampedEvent {
    return { type, member: e.member, service: e.service, details };
  }

  /** Commit handler-started, run, retry, and record the outcome of one batch; frees its slot. */
  private async runBatch(lane: HandlerLane, batch: LaneItem[]): Promise<void> {
    const h = lane.handler;
    const term = this.tenure.term;
    const events = batch.map((b) => this.o.state.events.get(b.id)).filter((e): e is Event => e !== undefined);
    const newest = events.at(-1);
    if (!newest) {
      lane.release(batch);
      return;
    }
    const covers = events.map((e) => e.id);
    const coverage: JsonObject = h.mode === "latest" ? { covers } : {};
    let attempt = 1;
    let unknown = false;
    for (const id of covers) {
      const rec = this.o.state.handlerRuns.get(id, h.name);
      if (rec) attempt = Math.max(attempt, rec.attempt + 1);
      if (rec && rec.outcome === null) unknown = true;
    }
    let extra: JsonObject = batch.some((b) => b.retry)
      ? { retry: true }
      : unknown
        ? { previous: "unknown: the leader running it was lost" }
        : {};
    for (;;) {
      const outcome = await this.runAttempt(h, newest, covers, attempt, { ...coverage, ...extra }, term);
      if (outcome === null) {
        // Not run: leadership lost (the lanes are cleared), or handler-started did not commit.
        if (this.tenure.holds(term)) lane.release(batch);
        return;
      }
      const ok = outcome.kind === "exited" && outcome.code === 0;
      this.o.onRunEnded?.({
        handler: h.name,
        outcome: handlerRunOutcome(outcome),
        durationMs: outcome.durationMs,
      });
      const details = outcomeDetails(outcome);
      if (!ok && attempt <= h.retries) {
        const delay = Math.min((this.o.retryBaseMs ?? 1000) * 2 ** (attempt - 1), MAX_RETRY_DELAY_MS);
        this.o.logger.warn(
          { handler: h.name, event: newest.id, attempt, outcome: outcome.kind, retryInMs: delay },
          "handler failed; will retry",
        );
        // The batch keeps its slot through the wait, so nothing later overtakes it.
        await this.sleep(delay);
        attempt++;
        extra = { previous: details };
        continue;
      }
      try {
        await this.o.propose(
          this.fields(ok ? "handler-succeeded" : "handler-failed", newest, {
            event: newest.id,
            handler: h.name,
            attempt,
            ...coverage,
            ...details,
          }),
        );
      } catch (err) {
        this.o.logger.warn(
          { err, handler: h.name, event: newest.id },
          "could not record the handler outcome; the next leader will retry",
        );
      }
      if (!this.tenure.holds(term)) return;
      lane.release(batch);
      this.pump(lane);
      return;
    }
  }

  /**
   * Commit handler-started for `attempt`, then run it under its lease. Resolves with the
   * outcome, or null when it did not run or leadership was lost (nothing more may be recorded).
   */
  private async runAttempt(
    h: HandlerConfig,
    newest: Event,
    covers: number[],
    attempt: number,
    extra: JsonObject,
    term: number,
  ): Promise<RunOutcome | null> {
    // The commit of an entry proposed at `askedAt` confirms our leadership as of `askedAt`.
    let confirmedAt = this.now();
    let started: Event;
    try {
      started = await this.o.propose(
        this.fields("handler-started", newest, {
          event: newest.id,
          handler: h.name,
          attempt,
          leader: this.o.self,
          ...extra,
        }),
      );
    } catch (err) {
      this.o.logger.warn(
        { err, handler: h.name, event: newest.id, attempt },
        "could not record handler-started; not running it",
      );
      return null;
    }
    // Leadership changed while handler-started committed: the next leader owns the attempt.
    if (!this.tenure.holds(term)) return null;
    if (confirmedAt + this.leaseMs - this.now() < this.leaseMs / 2) {
      try {
        confirmedAt = await this.o.confirmLeadership();
      } catch {
        return null; // cannot show we lead: never start a run without a lease
      }
      if (!this.tenure.holds(term)) return null;
    }
    const run = startHandlerAttempt({
      event: newest,
      covers,
      handler: h,
      attempt,
      started,
      state: this.o.state,
      cluster: this.o.cluster,
      deadlineCs: this.bootDeadline(confirmedAt + this.leaseMs - this.now()),
      spawner: this.o.spawner,
      guard: this.o.runGuard,
      now: this.o.now,
    });
    this.running.add(run);
    this.scheduleRenewal();
    this.o.logger.info(
      { handler: h.name, event: newest.id, covers: covers.length, attempt, pid: run.pid },
      "handler started",
    );
    const outcome = await run.done;
    this.running.delete(run);
    if (this.running.size === 0 && this.renewTimer !== null) {
      this.timers.clear(this.renewTimer);
      this.pendingTimers.delete(this.renewTimer);
      this.renewTimer = null;
    }
    if (!this.tenure.holds(term)) return null; // killed on leadership loss: outcome unknown to the log
    return outcome;
  }

  /** Renew every running lease every L/4 while runs are in flight. */
  private scheduleRenewal(): void {
    if (this.renewTimer !== null || this.running.size === 0) return;
    this.renewTimer = this.later(handlerRenewEveryMs(this.o.electionTimeoutMs), () => {
      this.renewTimer = null;
      this.renew();
    });
  }

  private renew(): void {
    if (this.running.size === 0) return;
    if (!this.renewing) {
      this.renewing = true;
      const term = this.tenure.term;
      this.o
        .confirmLeadership()
        .then((askedAt) => {
          if (!this.tenure.holds(term)) return;
          const line = renewalLine(this.bootDeadline(askedAt + this.leaseMs - this.now()));
          for (const run of this.running) run.control(line);
        })
        .catch((err: unknown) => {
          // No renewal: the watchdogs end the runs when their leases run out.
          this.o.logger.warn({ err }, "could not confirm leadership; handler leases not renewed");
        })
        .finally(() => {
          this.renewing = false;
        });
    }
    this.scheduleRenewal();
  }

  /**
   * `conclave handlers retry`: queue a pair whose run has a final outcome (normally failed)
   * again, as the next attempt, recorded with `retry: true`. Returns the handlers queued.
   * @throws HandlerRetryError when this node is not acting as leader, the event is unknown,
   *   or no such handler applies.
   */
  retry(eventId: number, handler: string): string[] {
    if (!this.tenure.active)
      throw new HandlerRetryError("this node is not (yet) acting as leader; retry in a moment");
    const e = this.o.state.events.get(eventId);
    if (!e) throw new HandlerRetryError(`event ${eventId} is not in the event log`);
    const lanes = this.subscribers(e).filter((l) => handler === "" || l.handler.name === handler);
    if (handler !== "" && lanes.length === 0) {
      throw new HandlerRetryError(
        `handler "${handler}" is not configured for ${e.type} events on the leader`,
      );
    }
    const queued: string[] = [];
    for (const lane of lanes) {
      const run = this.o.state.handlerRuns.get(e.id, lane.handler.name);
      if (lane.has(e.id)) continue;
      if (run && run.outcome === null) continue;
      if (run?.outcome === "succeeded") continue; // only failed runs are retried
      lane.add(e.id, true);
      queued.push(lane.handler.name);
      this.pump(lane);
    }
    return queued;
  }

  /** Kill everything (the node is stopping). */
  stop(): void {
    this.lostLeadership();
  }
}
