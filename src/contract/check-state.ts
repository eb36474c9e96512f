/**
 * The states of a check as the whole cluster sees them, and the one rule of how a check moves
 * between them (docs/checks.md#states, docs/handler-contract.md#check-states):
 *
 * ```
 *            agent start or restart
 *                     │
 *                     ▼
 *                 ┌─────────┐
 *       rise      │ pending │      fall
 *     passes ┌────┴─────────┴────┐ failures
 *            ▼                   ▼
 *       ┌─────────┐  fall   ┌─────────┐
 *       │ passing │ ──────▶ │ failing │
 *       │         │ ◀────── │         │
 *       └─────────┘  rise   └─────────┘
 * ```
 *
 * Every check starts `pending` when its agent starts (or restarts): nothing is assumed about
 * it until it has been checked. It leaves `pending` the first time it reaches `rise` passes in
 * a row (then `passing`) or `fall` failures in a row (then `failing`), whichever comes first,
 * and from then on moves only between `passing` and `failing`. It is `pending` again only
 * when its agent restarts. A member reports each change; the leader commits `check-passing` /
 * `check-failing`, and a member that (re)joins brings its states in its registration (after a
 * restart: `pending`). The committed view, `conclave members`, the status page and handler
 * stdin show the state.
 *
 * A `pending` check is neither passing nor failing: whatever requires a passing check (the
 * DNS handler's `--check`, the master keeper's candidates) treats it as not passing, and it
 * never runs a check's `action` (only the move to `failing` does). It does not change the
 * member's status (member-status.ts): checks and health are separate facts.
 */
import { nameProblem } from "./names.ts";

/** A check's state; see the module comment for how it changes. */
export type CheckState = "pending" | "passing" | "failing";

/** Every {@link CheckState}, for validation of what a peer or a snapshot carries. */
export const CHECK_STATES: readonly CheckState[] = ["pending", "passing", "failing"];

/** The state of every check when its agent starts. */
export const INITIAL_CHECK_STATE: CheckState = "pending";

/** Whether `v` is a {@link CheckState}. */
export function isCheckState(v: unknown): v is CheckState {
  return typeof v === "string" && (CHECK_STATES as readonly string[]).includes(v);
}

/**
 * Why `state`, reported for check `check`, is not a {@link CheckState}, or null when it is:
 * the one wording of that refusal.
 */
export function checkStateProblem(check: string, state: unknown): string | null {
  if (isCheckState(state)) return null;
  return `check ${JSON.stringify(check)} has state ${JSON.stringify(state)}; a check state is one of ${CHECK_STATES.join(", ")}`;
}

/**
 * The check name under which a service's `status` script runs (`service:NAME`): the member
 * reports it, the master keeper and the member view read it. The one place this rule lives.
 */
export function serviceCheckName(service: string): string {
  return `${SERVICE_CHECK_PREFIX}${service}`;
}

/** The prefix of a service status check name. */
const SERVICE_CHECK_PREFIX = "service:";

/**
 * Why `value` is not a name a member may report a check under, or null: a check name by the
 * one name rule, or {@link serviceCheckName} of a valid service name.
 */
export function reportedCheckNameProblem(value: unknown): string | null {
  if (typeof value === "string" && value.startsWith(SERVICE_CHECK_PREFIX)) {
    return nameProblem("service", value.slice(SERVICE_CHECK_PREFIX.length));
  }
  return nameProblem("check", value);
}
