/**
 * The committed state of handler runs, folded from the `handler-*` events: for each
 * (event, handler) pair, the latest attempt started and whether it has a final outcome.
 * The leader's handler runner reads it to decide what to run; every elector holds the same.
 *
 * A `mode: latest` run handles several events at once: its handler-started and its outcome
 * list them in `covers` (ending with `event`), and each covered pair is folded the same way,
 * so every covered event has exactly one recorded run.
 *
 * Invariants: a pair's `attempt` never decreases; an outcome is recorded only for the latest
 * started attempt; a final outcome stays final unless an explicit retry (`details.retry`)
 * starts a later attempt.
 */
import type { Event } from "../contract/events.ts";

/** One (event, handler) pair's progress. */
export interface HandlerRunRecord {
  /** The id of the committed event the handler runs for. */
  readonly eventId: number;
  /** The handler's name (`handlers[].name`). */
  readonly handler: string;
  /** The latest attempt recorded as started (0: none yet). */
  readonly attempt: number;
  /** The id of that attempt's handler-started event (its fence index). */
  readonly startedId: number;
  /** The term in which that attempt was started. */
  readonly startedTerm: number;
  /** A final outcome, once handler-succeeded or handler-failed is committed. */
  readonly outcome: "succeeded" | "failed" | null;
}

/** The key of a run: one per (event, handler) pair. */
export function runKey(eventId: number, handler: string): string {
  return `${eventId}/${handler}`;
}

/**
 * The events a handler-* entry is about: its `covers` list when that is a list of event ids
 * that includes `eventId`, otherwise `eventId` alone.
 */
export function coveredIds(covers: unknown, eventId: number): readonly number[] {
  if (!Array.isArray(covers) || !covers.includes(eventId)) return [eventId];
  return covers.every((c) => Number.isSafeInteger(c) && c >= 0) ? (covers as number[]) : [eventId];
}

/** The handler-runs section of the state machine. */
export class HandlerRunsState {
  private readonly runs = new Map<string, HandlerRunRecord>();

  /** Fold one committed event (non-handler events are ignored). */
  apply(e: Event): void {
    if (e.type !== "handler-started" && e.type !== "handler-succeeded" && e.type !== "handler-failed") return;
    const eventId = e.details.event;
    const handler = e.details.handler;
    const attempt = e.details.attempt;
    if (typeof eventId !== "number" || typeof handler !== "string" || typeof attempt !== "number") return;
    for (const id of coveredIds(e.details.covers, eventId)) {
      const key = runKey(id, handler);
      const old = this.runs.get(key);
      if (e.type === "handler-started") {
        // A final outcome is reopened only by an explicit retry (`conclave handlers retry`).
        if (old && old.attempt >= attempt) continue;
        if (old && old.outcome !== null && e.details.retry !== true) continue;
        this.runs.set(key, {
          eventId: id,
          handler,
          attempt,
          startedId: e.id,
          startedTerm: e.term,
          outcome: null,
        });
        continue;
      }
      if (!old || old.attempt !== attempt || old.outcome !== null) continue;
      this.runs.set(key, { ...old, outcome: e.type === "handler-succeeded" ? "succeeded" : "failed" });
    }
  }

  /** The run of `handler` for event `eventId`, if any attempt was recorded. */
  get(eventId: number, handler: string): HandlerRunRecord | undefined {
    return this.runs.get(runKey(eventId, handler));
  }

  /** Runs without a final outcome. */
  open(): HandlerRunRecord[] {
    return [...this.runs.values()].filter((r) => r.outcome === null);
  }

  /** Forget a final outcome so `conclave handlers retry` can run the pair again. */
  reopen(eventId: number, handler: string): void {
    const r = this.runs.get(runKey(eventId, handler));
    if (r) this.runs.set(runKey(eventId, handler), { ...r, outcome: null });
  }

  /** Plain data for a snapshot. */
  snapshot(): HandlerRunRecord[] {
    return [...this.runs.values()];
  }

  /** Replace from snapshot data. */
  restore(data: readonly HandlerRunRecord[]): void {
    this.runs.clear();
    for (const r of data) this.runs.set(runKey(r.eventId, r.handler), r);
  }
}
