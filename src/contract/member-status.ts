/**
 * The committed status of a member, as `conclave members`, the status page and handler stdin
 * show it. `drained` is maintenance mode while the member is up (`conclave drain`).
 */

/** A member's committed status. */
export type MemberStatus = "up" | "down" | "drained" | "left";
