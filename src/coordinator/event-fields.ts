/**
 * Validation of the proposer-chosen fields of an event ({@link EventFields}): the one check an
 * event command passes when it is decoded, when it is appended and when a snapshot is
 * restored.
 *
 * Determinism: the checks read nothing but their argument (no clock, no local configuration),
 * so every elector accepts or refuses the same command alike; the normalized result (details
 * deep-copied with sorted keys) is the same bytes on every elector.
 */
import { canonicalJson } from "../contract/canonical-json.ts";
import { type EventDetails, type EventFields, isEventType, isIsoUtcTime } from "../contract/events.ts";

/** Deepest nesting of objects and arrays `details` may have (the details object is depth 1). */
export const MAX_DETAILS_DEPTH = 32;

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

const FIELD_KEYS: ReadonlySet<string> = new Set(["time", "type", "member", "service", "details"]);

/** Whether `v` is an object literal or `Object.create(null)` (not an array, Date, Map, class instance). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Why `v` is not a JSON value nested at most {@link MAX_DETAILS_DEPTH} containers deep, or null. */
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
 * @throws BadEventError naming the first bad field
 */
export function checkEventFields(o: Record<string, unknown>): EventFields {
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
  return checkEventFields(v);
}
