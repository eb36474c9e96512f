/**
 * The limits a command must respect beyond its shape (contract/limits.ts, docs/limits.md):
 * names by the one name rule, event details by size, per-member counts. Stateless: checked
 * when a command is proposed and again when it is decoded at apply time, so a command that
 * slipped past an edge is refused alike on every elector, never thrown on.
 *
 * Not applied when a snapshot is restored: what an older version committed stays loadable
 * (a node never fails to start on a value that once passed validation).
 */
import type { EventFields } from "../contract/events.ts";
import {
  CHECKS_PER_MEMBER_MAX,
  CLUSTER_CHECKS_MAX,
  EVENT_DETAILS_MAX_BYTES,
  formatBytes,
  LEADER_EVENT_DETAILS_MAX_BYTES,
  MEMBER_ADDRESS_MAX_BYTES,
  SERVICES_PER_MEMBER_MAX,
} from "../contract/limits.ts";
import { nameProblem } from "../contract/names.ts";
import { reportedCheckNameProblem } from "../contract/check-state.ts";
import { refusalsFromDetails } from "../contract/check-refusals.ts";
import { BadEventError } from "./event-fields.ts";
import { canonicalJson } from "../contract/canonical-json.ts";

/** Which limit a refused command exceeds (docs/limits.md names each). */
export type LimitName =
  | "event-details"
  | "checks-per-member"
  | "services-per-member"
  | "cluster-checks"
  | "members"
  | "kv-quota"
  | "proposal";

/** A command is well formed but exceeds a size or count limit; `limit` names which. */
export class LimitExceededError extends Error {
  override readonly name = "LimitExceededError";
  /** @param limit the limit exceeded */
  constructor(
    readonly limit: LimitName,
    message: string,
  ) {
    super(message);
  }
}

/** A name in a command breaks the one name rule (contract/names.ts). */
export class BadNameError extends Error {
  override readonly name = "BadNameError";
}

/** The details cap of an event type: leader-built bulky events get the larger one. */
export function detailsCap(type: EventFields["type"]): number {
  return type === "checks-updated" || type.startsWith("handler-")
    ? LEADER_EVENT_DETAILS_MAX_BYTES
    : EVENT_DETAILS_MAX_BYTES;
}

function checkName(what: string, v: unknown): void {
  const p = what === "check" ? reportedCheckNameProblem(v) : nameProblem(what, v);
  if (p !== null) throw new BadNameError(p);
}

/** The check names of a member-joined / member-up `checks` map: rule and count. */
function checkChecksMap(type: string, v: unknown): void {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return;
  const names = Object.keys(v);
  if (names.length > CHECKS_PER_MEMBER_MAX) {
    throw new LimitExceededError(
      "checks-per-member",
      `${type}: ${names.length} checks; a member may have at most ${CHECKS_PER_MEMBER_MAX}`,
    );
  }
  for (const n of names) checkName("check", n);
}

/**
 * Check an event's names, details size and per-member counts.
 * @throws BadNameError for a name that breaks the rule; LimitExceededError past a limit
 */
export function checkEventLimits(f: EventFields): void {
  if (f.member !== null) checkName("member", f.member);
  if (f.service !== null) checkName("service", f.service);
  const size = Buffer.byteLength(canonicalJson(f.details));
  const cap = detailsCap(f.type);
  if (size > cap) {
    throw new LimitExceededError(
      "event-details",
      `${f.type}: details are ${size} bytes; the limit is ${formatBytes(cap)}`,
    );
  }
  const d = f.details;
  switch (f.type) {
    case "member-joined": {
      const services = d.services;
      if (Array.isArray(services)) {
        if (services.length > SERVICES_PER_MEMBER_MAX) {
          throw new LimitExceededError(
            "services-per-member",
            `member-joined: ${services.length} services; a member may run at most ${SERVICES_PER_MEMBER_MAX}`,
          );
        }
        for (const s of services) checkName("service", s);
      }
      if (typeof d.address === "string" && Buffer.byteLength(d.address) > MEMBER_ADDRESS_MAX_BYTES) {
        throw new LimitExceededError(
          "event-details",
          `member-joined: the address is longer than ${MEMBER_ADDRESS_MAX_BYTES} bytes`,
        );
      }
      checkChecksMap(f.type, d.checks);
      return;
    }
    case "member-up":
      checkChecksMap(f.type, d.checks);
      return;
    case "check-failing":
    case "check-passing":
      checkName("check", d.check);
      return;
    case "checks-updated":
      if (Array.isArray(d.checks) && d.checks.length > CLUSTER_CHECKS_MAX) {
        throw new LimitExceededError(
          "cluster-checks",
          `checks-updated: ${d.checks.length} cluster-wide checks; the limit is ${CLUSTER_CHECKS_MAX}`,
        );
      }
      return;
    case "checks-refused":
      // The same reading the section folds with: a report that would not fold is not committed.
      if (f.member !== null) {
        const r = refusalsFromDetails(d);
        if (r.kind === "bad") throw new BadEventError("details", `checks-refused: ${r.problem}`);
      }
      return;
    default:
      return;
  }
}
