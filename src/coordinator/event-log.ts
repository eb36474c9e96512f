/**
 * The event log section of the replicated state machine (DESIGN.md, "Events"): every
 * membership, failure, master and handler event, committed through Raft and chained by
 * SHA-256 so that `conclave audit verify` can find the first altered, removed or reordered
 * event.
 *
 * Determinism: the state machine appends an event when it applies the committed entry that
 * carries it, so every elector appends the same events with the same ids in the same order.
 * Nothing here reads the clock, randomness or local configuration: `time` is the proposer's
 * wall clock, written into the command before it is proposed.
 *
 * Hash chain (the exact definition; audits depend on it, so it never changes within a
 * snapshot version):
 *
 *     body(e)    = canonicalJson({ id, term, time, type, member, service, details })
 *     hash(e)    = lowercase hex SHA-256 of the UTF-8 bytes of  prevHash + "\n" + body(e)
 *     prevHash   = hash of the previous event; for the first event of the cluster, 64 zeros
 *                  (the genesis anchor); after retention dropped older events, the anchor's hash
 *
 * `canonicalJson` is defined in canonical-json.ts (sorted keys, no whitespace, RFC 8785 rules).
 * Exactly those seven fields are hashed: `hash` itself is excluded, and any other property on
 * the object is ignored (snapshots refuse events that carry one).
 *
 * What the chain proves: each retained event is unaltered and in place relative to its
 * predecessor and the anchor. It cannot show that events were cut off the end; compare the
 * `head` of two electors for that.
 */
import { createHash } from "node:crypto";
import { canonicalJson, type JsonObject, type JsonValue } from "../contract/canonical-json.ts";

export type { JsonObject, JsonValue };
export { canonicalJson };

/** The event types of DESIGN.md, in its order. */
export const EVENT_TYPES = [
  "leader-elected",
  "member-joined",
  "member-left",
  "member-down",
  "member-up",
  "check-failing",
  "check-passing",
  "master-promoted",
  "master-demoted",
  "member-drained",
  "member-undrained",
  "elector-added",
  "elector-removed",
  "checks-updated",
  "handler-started",
  "handler-succeeded",
  "handler-failed",
] as const;

/** One of {@link EVENT_TYPES}. */
export type EventType = (typeof EVENT_TYPES)[number];

/** An event's free-form data, e.g. `{ epoch }` or `{ event, handler, attempt }`. */
export type EventDetails = JsonObject;

/** A committed event, as `conclave events --json` prints it (one per line). */
export interface Event {
  /** The Raft log index of the entry that committed it: unique and increasing. */
  readonly id: number;
  /** The Raft term of that entry. */
  readonly term: number;
  /** ISO-8601 UTC time from the proposer's clock (`YYYY-MM-DDTHH:mm:ss.sssZ`). Not monotonic. */
  readonly time: string;
  readonly type: EventType;
  readonly member: string | null;
  readonly service: string | null;
  /** A JSON object, possibly empty. Stored with its keys sorted. */
  readonly details: EventDetails;
  /** `eventHash(previous hash, this event)`: see the module comment. */
  readonly hash: string;
}

/** An event without its hash: what the hash is computed over. */
export type UnhashedEvent = Omit<Event, "hash">;

/** The last event before a stretch of chain: the chain after it is verified from its hash. */
export interface EventAnchor {
  readonly id: number;
  readonly hash: string;
}

/** The previous hash of the first event ever: 64 zeros. */
export const ZERO_HASH = "0".repeat(64);

/** The anchor of a chain that starts at the first event ever (id 0 is no Raft entry's index). */
export const GENESIS_ANCHOR: EventAnchor = Object.freeze({
  id: 0,
  hash: ZERO_HASH,
});

/** Events the in-memory log keeps unless told otherwise. */
export const DEFAULT_MAX_EVENTS = 100_000;

/** Deepest nesting of objects and arrays `details` may have (the details object is depth 1). */
export const MAX_DETAILS_DEPTH = 32;

/** The fields of an event that its proposer chooses: what an event command carries. */
export interface EventFields {
  readonly time: string;
  readonly type: EventType;
  readonly member: string | null;
  readonly service: string | null;
  readonly details: EventDetails;
}

/** What the state machine hands to {@link EventLog.append}: the applied entry's position and the event. */
export interface EventAppendInput {
  /** The Raft index of the entry being applied; becomes the event's id. */
  readonly index: number;
  /** The Raft term of that entry. */
  readonly term: number;
  readonly time: string;
  readonly type: EventType;
  /** Defaults to null. */
  readonly member?: string | null;
  /** Defaults to null. */
  readonly service?: string | null;
  /** Defaults to `{}`. */
  readonly details?: EventDetails;
}

/** The outcome of {@link verifyChain}: how many events were checked, or the first broken link. */
export type ChainVerdict =
  | { readonly ok: true; readonly checked: number }
  | { readonly ok: false; readonly id: number; readonly reason: string };

/** Plain JSON data of an {@link EventLog}, for the state machine's snapshot. */
export interface EventLogSnapshot {
  readonly version: 1;
  readonly anchor: EventAnchor;
  readonly events: readonly Event[];
}

/**
 * An event field is invalid. `field` names it: `time`, `type`, `member`, `service`, `details`,
 * an unknown key, or `fields` when the event is not an object at all.
 */
export class BadEventError extends Error {
  override readonly name = "BadEventError";
  /** @param field the offending field */
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`event ${field}: ${message}`);
  }
}

/** Event log snapshot data could not be restored; the message names the problem. */
export class BadEventLogSnapshotError extends Error {
  override readonly name = "BadEventLogSnapshotError";
}

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);
const HASH_RE = /^[0-9a-f]{64}$/;
const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{3}Z$/;
const FIELD_KEYS: ReadonlySet<string> = new Set(["time", "type", "member", "service", "details"]);
const EVENT_KEYS = ["id", "term", "time", "type", "member", "service", "details", "hash"] as const;

/** Whether `v` is one of {@link EVENT_TYPES}. */
export function isEventType(v: unknown): v is EventType {
  return typeof v === "string" && EVENT_TYPE_SET.has(v);
}

/**
 * Whether `v` is a UTC time exactly as `Date.prototype.toISOString` spells it for years
 * 0000-9999 (`2024-05-01T12:00:00.000Z`), naming a real calendar date. Checked with plain
 * arithmetic, not `Date.parse` (which rolls `02-30` over to March), so it is deterministic.
 */
export function isIsoUtcTime(v: unknown): v is string {
  if (typeof v !== "string") return false;
  const m = TIME_RE.exec(v);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] as number;
  return day <= days;
}

/** Why `v` is not a JSON value nested at most `depth` containers deep, or null. */
function jsonProblem(v: unknown, path: string, depth: number): string | null {
  switch (typeof v) {
    case "string":
    case "boolean":
      return null;
    case "number":
      return Number.isFinite(v) ? null : `${path} is ${v}, which JSON cannot represent`;
    case "object": {
      if (v === null) return null;
      if (depth > MAX_DETAILS_DEPTH) return `${path} is nested deeper than ${MAX_DETAILS_DEPTH} levels`;
      if (Array.isArray(v)) {
        for (let i = 0; i < v.length; i++) {
          const p = jsonProblem(v[i], `${path}[${i}]`, depth + 1);
          if (p) return p;
        }
        return null;
      }
      if (!isPlainObject(v)) return `${path} is not a plain object`;
      for (const k of Object.keys(v)) {
        const p = jsonProblem(v[k], `${path}.${k}`, depth + 1);
        if (p) return p;
      }
      return null;
    }
    default:
      return `${path} is ${typeof v}, which JSON cannot represent`;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function nameOrNull(field: "member" | "service", v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "string" || v.length === 0)
    throw new BadEventError(field, "must be a non-empty string or null");
  return v;
}

/**
 * Check the proposer-chosen fields of `o` (other keys are not looked at) and return them
 * normalized: member and service default to null, details to `{}`; details is a deep copy
 * with sorted keys, so later changes to the caller's object cannot reach the log.
 */
function checkFields(o: Record<string, unknown>): EventFields {
  if (!isIsoUtcTime(o.time)) {
    throw new BadEventError(
      "time",
      `${JSON.stringify(o.time)} is not an ISO-8601 UTC time like 2024-05-01T12:00:00.000Z`,
    );
  }
  if (!isEventType(o.type)) throw new BadEventError("type", `unknown event type ${JSON.stringify(o.type)}`);
  const member = nameOrNull("member", o.member);
  const service = nameOrNull("service", o.service);
  let details: EventDetails = {};
  if (o.details !== undefined) {
    if (!isPlainObject(o.details)) throw new BadEventError("details", "must be a plain JSON object");
    const p = jsonProblem(o.details, "details", 1);
    if (p) throw new BadEventError("details", p);
    details = JSON.parse(canonicalJson(o.details)) as EventDetails;
  }
  return { time: o.time, type: o.type, member, service, details };
}

/**
 * Validate the event part of a decoded command. Deterministic (no clock, no local state), so
 * every elector accepts or rejects the same command alike.
 * @returns the fields, normalized: member/service default to null, details to `{}` (a sorted deep copy)
 * @throws BadEventError naming the first bad field, or an unknown key
 */
export function validateEventFields(v: unknown): EventFields {
  if (!isPlainObject(v)) throw new BadEventError("fields", "an event must be a JSON object");
  for (const k of Object.keys(v)) if (!FIELD_KEYS.has(k)) throw new BadEventError(k, "is not an event field");
  return checkFields(v);
}

/**
 * The chained hash of `event` after `prevHash` (see the module comment):
 * hex SHA-256 of `prevHash + "\n" + canonicalJson({id, term, time, type, member, service, details})`.
 * @throws TypeError when `prevHash` is not 64 lowercase hex digits or a field is not JSON
 */
export function eventHash(prevHash: string, event: UnhashedEvent): string {
  if (typeof prevHash !== "string" || !HASH_RE.test(prevHash)) {
    throw new TypeError(
      `eventHash: previous hash ${JSON.stringify(prevHash)} is not 64 lowercase hex digits`,
    );
  }
  const { id, term, time, type, member, service, details } = event;
  const body = canonicalJson({
    id,
    term,
    time,
    type,
    member,
    service,
    details,
  });
  return createHash("sha256").update(`${prevHash}\n${body}`, "utf8").digest("hex");
}

/**
 * Recompute the chain of `events` (in the given order) from `anchor`, and report the first
 * broken link: an id that does not increase (`id N does not follow M`), or an event whose
 * stored hash differs from the recomputation (`hash mismatch: stored X, computed Y`).
 * An event whose content was altered is reported at its own id; a removed or moved event shows
 * at the event after the gap, whose predecessor hash no longer matches.
 * @param anchor where `events` start: the genesis anchor (64 zeros, id 0) unless older events were dropped
 */
export function verifyChain(events: readonly Event[], anchor: EventAnchor = GENESIS_ANCHOR): ChainVerdict {
  let prevId = anchor.id;
  let prevHash = anchor.hash;
  for (const e of events) {
    if (!Number.isSafeInteger(e.id) || e.id <= prevId) {
      return {
        ok: false,
        id: e.id,
        reason: `id ${e.id} does not follow ${prevId}`,
      };
    }
    let computed: string;
    try {
      computed = eventHash(prevHash, e);
    } catch (err) {
      return {
        ok: false,
        id: e.id,
        reason: `cannot hash: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
    if (e.hash !== computed) {
      return {
        ok: false,
        id: e.id,
        reason: `hash mismatch: stored ${e.hash}, computed ${computed}`,
      };
    }
    prevId = e.id;
    prevHash = e.hash;
  }
  return { ok: true, checked: events.length };
}

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

function snapshotError(msg: string): BadEventLogSnapshotError {
  return new BadEventLogSnapshotError(`event log snapshot: ${msg}`);
}

/** Check {@link EventLogSnapshot} data: every field of every event, then the chain from the anchor. */
function parseSnapshot(data: unknown): { anchor: EventAnchor; events: Event[] } {
  if (!isPlainObject(data)) throw snapshotError("must be an object");
  if (data.version !== 1) throw snapshotError(`unknown version ${JSON.stringify(data.version)}`);
  const a = data.anchor;
  if (!isPlainObject(a)) throw snapshotError("anchor must be an object { id, hash }");
  if (!Number.isSafeInteger(a.id) || (a.id as number) < 0) {
    throw snapshotError("anchor.id must be a non-negative integer");
  }
  if (typeof a.hash !== "string" || !HASH_RE.test(a.hash)) {
    throw snapshotError("anchor.hash must be 64 lowercase hex digits");
  }
  const anchor: EventAnchor = Object.freeze({ id: a.id as number, hash: a.hash });
  if (!Array.isArray(data.events)) throw snapshotError("events must be an array");
  const events: Event[] = [];
  for (const [i, raw] of (data.events as unknown[]).entries()) {
    const where = `events[${i}]`;
    if (!isPlainObject(raw)) throw snapshotError(`${where} must be an object`);
    const at = `${where} (id ${JSON.stringify(raw.id)})`;
    for (const k of EVENT_KEYS) if (raw[k] === undefined) throw snapshotError(`${at} has no ${k}`);
    for (const k of Object.keys(raw)) {
      if (!(EVENT_KEYS as readonly string[]).includes(k)) throw snapshotError(`${at} has unknown field ${k}`);
    }
    if (!Number.isSafeInteger(raw.id) || (raw.id as number) < 1) {
      throw snapshotError(`${at}: id must be a positive integer`);
    }
    if (!Number.isSafeInteger(raw.term) || (raw.term as number) < 0) {
      throw snapshotError(`${at}: term must be a non-negative integer`);
    }
    if (typeof raw.hash !== "string" || !HASH_RE.test(raw.hash)) {
      throw snapshotError(`${at}: hash must be 64 lowercase hex digits`);
    }
    let f: EventFields;
    try {
      f = checkFields(raw);
    } catch (e) {
      if (e instanceof BadEventError) throw snapshotError(`${at}: ${e.message}`);
      throw e;
    }
    events.push(deepFreeze({ id: raw.id as number, term: raw.term as number, ...f, hash: raw.hash }));
  }
  const verdict = verifyChain(events, anchor);
  if (!verdict.ok) throw snapshotError(`chain broken at id ${verdict.id}: ${verdict.reason}`);
  return { anchor, events };
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
   * @throws BadEventError when a field is invalid (see {@link validateEventFields})
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
    const f = checkFields(input as unknown as Record<string, unknown>);
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
    const { anchor, events } = parseSnapshot(data);
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
