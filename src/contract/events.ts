/**
 * The events of docs/events.md as the outside world sees them: the closed list of event
 * types, the fields a proposer chooses, and a committed event as `conclave events --json`
 * prints it and a handler reads it. Configuration (`handlers[].events`), the CLI and the
 * shipped handlers rely on these names and shapes, so this file changes only with docs/.
 *
 * The hash chain over these events, their validation and the log itself are the replicated
 * state machine's business (coordinator/event-chain.ts, event-fields.ts, event-log.ts).
 *
 * Like the rest of `contract/` it imports nothing but `contract/`.
 */
import type { JsonObject } from "./canonical-json.ts";

/** The event types of docs/events.md, in its order. Append only: a committed type is never renamed. */
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
  "checks-refused",
] as const;

/** One of {@link EVENT_TYPES}. */
export type EventType = (typeof EVENT_TYPES)[number];

const EVENT_TYPE_SET: ReadonlySet<string> = new Set(EVENT_TYPES);

/** Whether `v` is one of {@link EVENT_TYPES}. */
export function isEventType(v: unknown): v is EventType {
  return typeof v === "string" && EVENT_TYPE_SET.has(v);
}

/** An event's free-form data, e.g. `{ epoch }` or `{ event, handler, attempt }`. */
export type EventDetails = JsonObject;

/**
 * The fields of an event that its proposer chooses: what an event command carries. The log
 * adds `id`, `term` and `hash` when the command commits.
 */
export interface EventFields {
  /**
   * When the proposer decided the event: its wall clock at proposal time, spelled as
   * `Date.prototype.toISOString` spells it (see {@link isIsoUtcTime}). Part of the command, so
   * every elector stores the same string. Not monotonic: the log's order is its id order.
   */
  readonly time: string;
  /** What happened. */
  readonly type: EventType;
  /** The member it is about, or null. */
  readonly member: string | null;
  /** The service it is about, or null. */
  readonly service: string | null;
  /** A JSON object, possibly empty. Stored with its keys sorted. */
  readonly details: EventDetails;
}

/** A committed event, as `conclave events --json` prints it (one per line). */
export interface Event extends EventFields {
  /** The Raft log index of the entry that committed it: unique and increasing. */
  readonly id: number;
  /** The Raft term of that entry. */
  readonly term: number;
  /** Its link in the event log's SHA-256 hash chain (64 lowercase hex digits). */
  readonly hash: string;
}

const TIME_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.\d{3}Z$/;

/**
 * Whether `v` is an event time: a UTC time exactly as `Date.prototype.toISOString` spells it
 * for years 0000-9999 (`2024-05-01T12:00:00.000Z`), naming a real calendar date. Checked with
 * plain arithmetic, not `Date.parse` (which rolls `02-30` over to March), so it is
 * deterministic: every elector accepts or refuses the same time alike.
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
