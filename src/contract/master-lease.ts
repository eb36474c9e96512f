/**
 * The master lease arithmetic shared by the member (which must stop being master in time) and
 * the leader (which must not promote a replacement too early). One place, so the two sides can
 * never disagree about the numbers.
 *
 * With L = `timing.master_lease`:
 * - an acknowledgement from the leader that lists a service renews the member's lease for that
 *   service until `sentAt + L`, where `sentAt` is when the MEMBER sent the report the
 *   acknowledgement answers (never later than the leader's send time, so the member's view of
 *   the expiry is never later than the leader's);
 * - the member starts `demote` by itself at `sentAt + L - D` (D = {@link demoteBudgetMs}), and
 *   a `demote` still running at `sentAt + L` is killed: so a master is down by `sentAt + L`;
 * - the separate watchdog process fires {@link WATCHDOG_SLACK_MS} after the member would have
 *   (so the two do not run `demote` together), with the rest of D for the script;
 * - the leader promotes a replacement no earlier than `lastGrantSentAt + L + margin`
 *   ({@link leaseMarginMs}, for the two monotonic clocks running at slightly different rates).
 */

/** Time a master keeps for running `demote` before its lease runs out: a third of the lease. */
export function demoteBudgetMs(leaseMs: number): number {
  return Math.floor(leaseMs / 3);
}

/** Silence (since the acknowledged report was sent) after which a master demotes itself. */
export function selfDemoteAfterMs(leaseMs: number): number {
  return leaseMs - demoteBudgetMs(leaseMs);
}

/** How much later than the agent the watchdog steps in. */
export function watchdogSlackMs(leaseMs: number): number {
  return Math.min(200, Math.floor(demoteBudgetMs(leaseMs) / 4));
}

/** Extra wait on the leader beyond the lease, for clock-rate differences between machines. */
export function leaseMarginMs(leaseMs: number): number {
  return Math.max(50, Math.ceil(leaseMs * 0.05));
}

/**
 * How long after a new leader takes over its predecessor must have stepped down (check-quorum:
 * a leader that has not heard from a quorum within an election timeout steps down, and it
 * checks once per election timeout): until then the old leader may still acknowledge members
 * and run handlers.
 */
export function oldLeaderGoneAfterMs(electionTimeoutMs: number): number {
  return 2 * electionTimeoutMs;
}
