/**
 * The order of one handler's runs on the leader: a lane of the events waiting for it, in commit
 * order, and how many of its runs are in flight. Pure bookkeeping, no I/O and no clock: the
 * handler runner asks {@link HandlerLane.take} for the next batch whenever a slot is free.
 *
 * Invariants:
 * - Events are taken in the order they were added (commit order for committed events), so
 *   runs of one handler start in commit order.
 * - At most `concurrency` batches are in flight; a batch holds its slot through its retries,
 *   so a failing event never lets a later one overtake it beyond what `concurrency` allows.
 * - An event is in the lane (waiting or in flight) at most once.
 * - `mode: each` takes one event per batch; `mode: latest` takes every waiting event, up to
 *   {@link MAX_COVERS}, so one run covers them all.
 */
import type { HandlerConfig } from "../../config/node-config.ts";

/** The most events one `mode: latest` run covers (its handler-started entry lists them all). */
export const MAX_COVERS = 1000;

/** One event waiting for the handler. */
export interface LaneItem {
  /** The committed event's id. */
  readonly id: number;
  /** Queued by `conclave handlers retry`: its handler-started carries `retry: true`. */
  readonly retry: boolean;
}

/** One handler's waiting events and runs in flight. */
export class HandlerLane {
  private waiting: LaneItem[] = [];
  /** Ids waiting or in flight. */
  private readonly known = new Set<number>();
  private inFlight = 0;

  constructor(readonly handler: HandlerConfig) {}

  /** Add an event at the end; false (and nothing changes) when it is already in the lane. */
  add(id: number, retry = false): boolean {
    if (this.known.has(id)) return false;
    this.known.add(id);
    this.waiting.push({ id, retry });
    return true;
  }

  /** Whether `id` is waiting or in flight. */
  has(id: number): boolean {
    return this.known.has(id);
  }

  /** Whether a batch may start now: a slot is free and something waits. */
  get ready(): boolean {
    return this.waiting.length > 0 && this.inFlight < this.handler.concurrency;
  }

  /** The events the next batch would take, without taking them. */
  peek(): readonly LaneItem[] {
    if (this.handler.mode === "latest") return this.waiting.slice(0, MAX_COVERS);
    return this.waiting.slice(0, 1);
  }

  /** Drop a waiting event that needs no run after all (it already has a final outcome). */
  drop(id: number): void {
    const i = this.waiting.findIndex((w) => w.id === id);
    if (i < 0) return;
    this.waiting.splice(i, 1);
    this.known.delete(id);
  }

  /** Take the next batch and hold a slot for it; null when {@link ready} is false. */
  take(): LaneItem[] | null {
    if (!this.ready) return null;
    const batch = this.peek().slice();
    this.waiting.splice(0, batch.length);
    this.inFlight++;
    return batch;
  }

  /** A batch from {@link take} is finished (recorded, or given up): free its slot and ids. */
  release(batch: readonly LaneItem[]): void {
    for (const b of batch) this.known.delete(b.id);
    this.inFlight = Math.max(0, this.inFlight - 1);
  }

  /** Batches in flight. */
  get running(): number {
    return this.inFlight;
  }

  /** Forget everything (leadership lost). */
  clear(): void {
    this.waiting = [];
    this.known.clear();
    this.inFlight = 0;
  }
}
