/**
 * The event log section of the replicated state machine (docs/events.md): every
 * membership, failure, master and handler event, committed through Raft and chained by
 * SHA-256 (event-chain.ts) so that `conclave audit verify` can find the first altered, removed
 * or reordered event. The event types and shapes are the public contract (contract/events.ts).
 *
 * Determinism: the state machine appends an event when it applies the committed entry that
 * carries it, so every elector appends the same events with the same ids in the same order.
 * Nothing here reads the clock, randomness or local configuration: `time` is the proposer's
 * wall clock, written into the command before it is proposed.
 */
import type { Event, EventDetails, EventType } from "../contract/events.ts";
import { type EventAnchor, eventHash, GENESIS_ANCHOR, type UnhashedEvent } from "./event-chain.ts";
import { checkEventFields } from "./event-fields.ts";
import { deepFreeze, type EventLogSnapshot, parseEventLogSnapshot } from "./event-log-snapshot.ts";

/** Events the in-memory log keeps unless told otherwise. */
export const DEFAULT_MAX_EVENTS = 100_000;

/** What the state machine hands to {@link EventLog.append}: the applied entry's position and the event. */
export interface EventAppendInput {
  /** The Raft index of the entry being applied; becomes the event's id. */
  readonly index: number;
  /** The Raft term of that entry. */
  readonly term: number;
  /** The proposer's time (see `EventFields.time` in contract/events.ts). */
  readonly time: string;
  /** What happened. */
  readonly type: EventType;
  /** Defaults to null. */
  readonly member?: string | null;
  /** Defaults to null. */
  readonly service?: string | null;
  /** Defaults to `{}`. */
  readonly details?: EventDetails;
}

/** Options of an {@link EventLog}. */
export interface EventLogOptions {
  /**
   * How many events to keep in memory (default {@link DEFAULT_MAX_EVENTS}). Part of the
   * replicated state: give every elector the same value, or their snapshots differ.
   */
  readonly maxEvents?: number;
}

/**
 * The committed event log of one elector, bounded to `maxEvents` events.
 *
 * Invariants: ids strictly increase; `events[0]` chains to `anchor`, and each later event to
 * its predecessor; stored events are deeply frozen, so no caller can break the chain in place.
 *
 * Retention: when a new event would exceed `maxEvents`, the oldest are dropped and the last
 * dropped one becomes the anchor, from which the rest still verifies. Dropped events are gone
 * from this elector's memory and from its snapshots (an on-disk archive may keep them later).
 */
export class EventLog {
  /** The most events kept in memory. */
  readonly maxEvents: number;
  /** `events[start..]` are the retained events; the prefix is dropped lazily to make drops amortized O(1). */
  private events: Event[] = [];
  private start = 0;
  private anchorValue: EventAnchor = GENESIS_ANCHOR;

  /** @throws RangeError when `maxEvents` is not a positive integer */
  constructor(options: EventLogOptions = {}) {
    const max = options.maxEvents ?? DEFAULT_MAX_EVENTS;
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new RangeError(`event log: maxEvents must be a positive integer, not ${max}`);
    }
    this.maxEvents = max;
  }

  /** The number of events retained. */
  get size(): number {
    return this.events.length - this.start;
  }

  /** The event just before the retained ones: the genesis anchor until retention drops an event. */
  get anchor(): EventAnchor {
    return this.anchorValue;
  }

  /** The id and hash of the newest event (or the anchor when none is retained): the chain's head. */
  get head(): EventAnchor {
    const e = this.last();
    return e ? { id: e.id, hash: e.hash } : this.anchorValue;
  }

  /**
   * Record the event carried by the entry being applied at Raft index `input.index`.
   * Nothing changes when it throws.
   * @throws Error when `index` does not exceed the head's id (entries apply in log order: a
   *   state-machine invariant), or `index`/`term` is not a valid Raft index/term
   * @throws BadEventError when a field is invalid (see event-fields.ts)
   */
  append(input: EventAppendInput): Event {
    const { index, term } = input;
    if (!Number.isSafeInteger(index) || index < 1)
      throw new Error(`event log: index ${index} is not a log index`);
    if (!Number.isSafeInteger(term) || term < 0) throw new Error(`event log: term ${term} is not a term`);
    const head = this.head;
    if (index <= head.id) {
      throw new Error(
        `event log: index ${index} does not follow ${head.id}; events must be appended in log order`,
      );
    }
    const f = checkEventFields(input as unknown as Record<string, unknown>);
    const unhashed: UnhashedEvent = { id: index, term, ...f };
    const event: Event = deepFreeze({
      ...unhashed,
      hash: eventHash(head.hash, unhashed),
    });
    this.events.push(event);
    this.trim();
    return event;
  }

  /** The newest event, if any is retained. */
  last(): Event | undefined {
    return this.size > 0 ? this.events[this.events.length - 1] : undefined;
  }

  /** The newest `n` retained events (fewer when fewer are retained), oldest first. */
  tail(n: number): Event[] {
    return this.events.slice(Math.max(this.start, this.events.length - Math.max(0, n)));
  }

  /** The event with this id, if it is retained. */
  get(id: number): Event | undefined {
    const i = this.firstAfter(id - 1);
    const e = this.events[i];
    return e?.id === id ? e : undefined;
  }

  /**
   * Retained events with id greater than `id`, oldest first, optionally only of one type and
   * at most `limit` of them. When `id` is below `anchor.id`, the events in between were dropped
   * by retention and are not returned: compare with {@link anchor} to tell.
   * @throws RangeError when `limit` is not a non-negative integer
   */
  since(id: number, options: { readonly type?: EventType; readonly limit?: number } = {}): Event[] {
    const { type, limit = Number.POSITIVE_INFINITY } = options;
    if (limit !== Number.POSITIVE_INFINITY && (!Number.isSafeInteger(limit) || limit < 0)) {
      throw new RangeError(`event log: limit must be a non-negative integer, not ${limit}`);
    }
    const out: Event[] = [];
    for (let i = this.firstAfter(id); i < this.events.length && out.length < limit; i++) {
      const e = this.events[i] as Event;
      if (type === undefined || e.type === type) out.push(e);
    }
    return out;
  }

  /** Forget every event and return to the genesis anchor (the empty founding state). */
  clear(): void {
    this.events = [];
    this.start = 0;
    this.anchorValue = GENESIS_ANCHOR;
  }

  /** Plain JSON-able data of the anchor and the retained events. */
  snapshot(): EventLogSnapshot {
    return {
      version: 1,
      anchor: { ...this.anchorValue },
      events: this.events.slice(this.start),
    };
  }

  /**
   * Replace the contents with {@link snapshot} data (as parsed back from JSON). Checks the shape
   * of every event and the whole chain from the anchor; on failure nothing changes. Events
   * beyond `maxEvents` are dropped as on append.
   * @throws BadEventLogSnapshotError naming the problem (and the event's position and id)
   */
  restore(data: unknown): void {
    const { anchor, events } = parseEventLogSnapshot(data);
    this.events = events;
    this.start = 0;
    this.anchorValue = anchor;
    this.trim();
  }

  /** Drop the oldest events beyond `maxEvents`, moving the anchor to the last one dropped. */
  private trim(): void {
    const excess = this.size - this.maxEvents;
    if (excess <= 0) return;
    const lastDropped = this.events[this.start + excess - 1] as Event;
    this.anchorValue = Object.freeze({
      id: lastDropped.id,
      hash: lastDropped.hash,
    });
    this.start += excess;
    // Release the dropped prefix once it is at least as long as what is kept: amortized O(1).
    if (this.start >= this.size) {
      this.events = this.events.slice(this.start);
      this.start = 0;
    }
  }

  /** The array position of the first retained event with id > `id` (binary search: ids increase). */
  private firstAfter(id: number): number {
    let lo = this.start;
    let hi = this.events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.events[mid] as Event).id <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}
