/**
 * The committed status of a member, as `conclave members`, the status page and handler stdin
 * show it, and the one rule that derives it.
 *
 * The committed state keeps two independent facts about a member: its health (`up`, `down`,
 * `left`, from the leader's failure detection) and its maintenance flag (`conclave drain` /
 * `undrain`). They are kept apart so that a drained member that goes down and comes back is
 * still drained. The status shown is derived from the two by {@link memberStatus} alone, so
 * every elector, and every reader of the view, derives the same.
 *
 * Checks are not part of a member's health or status: a member whose checks are `pending`,
 * `failing` or `passing` is `up` all the same while it reports. Whoever needs a check to pass
 * reads that check's state (contract/check-state.ts), where `pending` is not passing (and not
 * failing either): the DNS handler's `--check` does not list a member while its check is
 * pending, and the master keeper does not promote it.
 */

/** A member's health as the leader's failure detection committed it. */
export type MemberHealth = "up" | "down" | "left";

/** A member's committed status: its health, or `drained` while it is up and in maintenance. */
export type MemberStatus = "up" | "down" | "drained" | "left";

/** Every {@link MemberStatus}, for validation of what a peer, a snapshot or stdin carries. */
export const MEMBER_STATUSES: readonly MemberStatus[] = ["up", "down", "drained", "left"];

/** Whether `v` is a {@link MemberStatus}. */
export function isMemberStatus(v: unknown): v is MemberStatus {
  return typeof v === "string" && (MEMBER_STATUSES as readonly string[]).includes(v);
}

/**
 * The status of a member with this health and maintenance flag: `drained` while it is up and
 * in maintenance, its health otherwise (maintenance does not hide that a member is down or
 * has left). The one place this rule lives.
 */
export function memberStatus(health: MemberHealth, maintenance: boolean): MemberStatus {
  return health === "up" && maintenance ? "drained" : health;
}

/** The health behind a status: a drained member is up (the inverse of {@link memberStatus}). */
export function healthOf(status: MemberStatus): MemberHealth {
  return status === "drained" ? "up" : status;
}
