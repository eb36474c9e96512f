/**
 * The snapshot form of the event log: plain JSON data of the anchor and the retained events,
 * and the strict check that restores it. A snapshot arrives from another elector or from disk,
 * so nothing in it is trusted: every field of every event is checked, then the whole chain is
 * recomputed from the anchor, and the first problem is named.
 */
import type { Event, EventFields } from "../contract/events.ts";
import { type EventAnchor, isHash, verifyChain } from "./event-chain.ts";
import { BadEventError, checkEventFields, isPlainObject } from "./event-fields.ts";

/** Plain JSON data of an event log, for the state machine's snapshot. */
export interface EventLogSnapshot {
  /** The format of this section; 1 is the only one. */
  readonly version: 1;
  /** The event just before `events[0]`. */
  readonly anchor: EventAnchor;
  /** The retained events, oldest first. */
  readonly events: readonly Event[];
}

/** Event log snapshot data could not be restored; the message names the problem. */
export class BadEventLogSnapshotError extends Error {
  override readonly name = "BadEventLogSnapshotError";
}

/** Exactly the keys a stored event has: one more or one fewer refuses the snapshot. */
const EVENT_KEYS = ["id", "term", "time", "type", "member", "service", "details", "hash"] as const;

/** Freeze `v` and everything it holds, so a stored event cannot be changed in place. */
export function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

function snapshotError(msg: string): BadEventLogSnapshotError {
  return new BadEventLogSnapshotError(`event log snapshot: ${msg}`);
}

/** Check one stored event's shape; `where` names its position for the message. */
function parseEvent(raw: unknown, where: string): Event {
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
  if (!isHash(raw.hash)) throw snapshotError(`${at}: hash must be 64 lowercase hex digits`);
  let f: EventFields;
  try {
    f = checkEventFields(raw);
  } catch (e) {
    if (e instanceof BadEventError) throw snapshotError(`${at}: ${e.message}`);
    throw e;
  }
  return deepFreeze({ id: raw.id as number, term: raw.term as number, ...f, hash: raw.hash });
}

/**
 * Check {@link EventLogSnapshot} data (as parsed back from JSON): the version, the anchor,
 * every field of every event, then the chain from the anchor.
 * @returns the anchor and the events, deeply frozen
 * @throws BadEventLogSnapshotError naming the problem (and the event's position and id)
 */
export function parseEventLogSnapshot(data: unknown): { anchor: EventAnchor; events: Event[] } {
  if (!isPlainObject(data)) throw snapshotError("must be an object");
  if (data.version !== 1) throw snapshotError(`unknown version ${JSON.stringify(data.version)}`);
  const a = data.anchor;
  if (!isPlainObject(a)) throw snapshotError("anchor must be an object { id, hash }");
  if (!Number.isSafeInteger(a.id) || (a.id as number) < 0) {
    throw snapshotError("anchor.id must be a non-negative integer");
  }
  if (!isHash(a.hash)) throw snapshotError("anchor.hash must be 64 lowercase hex digits");
  const anchor: EventAnchor = Object.freeze({ id: a.id as number, hash: a.hash });
  if (!Array.isArray(data.events)) throw snapshotError("events must be an array");
  const events = (data.events as unknown[]).map((raw, i) => parseEvent(raw, `events[${i}]`));
  const verdict = verifyChain(events, anchor);
  if (!verdict.ok) throw snapshotError(`chain broken at id ${verdict.id}: ${verdict.reason}`);
  return { anchor, events };
}
