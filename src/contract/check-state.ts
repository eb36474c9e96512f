/**
 * The states of a check as the whole cluster sees them: a member reports a check when it
 * crosses its `fall` or `rise` threshold, the leader commits `check-failing` / `check-passing`,
 * and the committed view, `conclave members`, the status page and handler stdin show the state.
 */

/** A check's committed state. */
export type CheckState = "passing" | "failing";

/** Every {@link CheckState}, for validation of what a peer or a snapshot carries. */
export const CHECK_STATES: readonly CheckState[] = ["passing", "failing"];

/** Whether `v` is a {@link CheckState}. */
export function isCheckState(v: unknown): v is CheckState {
  return typeof v === "string" && (CHECK_STATES as readonly string[]).includes(v);
}

/**
 * The check name under which a service's `status` script runs (`service:NAME`): the member
 * reports it, the master keeper and the member view read it. The one place this rule lives.
 */
export function serviceCheckName(service: string): string {
  return `service:${service}`;
}
