/**
 * The handler lease arithmetic (docs/handler-contract.md, "Runs that never overlap"): how long a
 * leader's handler run may live without a renewal, how often the leader renews, and how long a
 * new leader waits before it runs attempt + 1 of a pair whose outcome it does not know. One
 * place, so the side that kills and the side that waits can never disagree.
 *
 * With E = `timing.election_timeout` and L = {@link handlerLeaseMs}(E) = E:
 * - The leader renews a run's lease only with a quorum confirmation of its leadership asked at
 *   time `t` (a ReadIndex round, or the commit of an entry it proposed at `t`): the lease then
 *   runs until `t + L`. A quorum was still in the leader's term after `t`, so any later leader
 *   was elected after `t`, and took over after that.
 * - The lease watchdog kills the run's whole process group by `t + L + R` at the latest
 *   (R = {@link WATCHDOG_REACTION_MS}: the boot clock's 10 ms resolution, the watcher's
 *   wake-up, and SIGKILL's delivery), or at once when the leader process is gone.
 * - A new leader that took over at `T` (so `T > t` for every `t` its predecessor used) runs
 *   attempt + 1 no earlier than `T + L + R + M` (M = {@link leaseMarginMs}(L), for clock-rate
 *   differences between machines). By then every run of the old leader has been killed,
 *   whether the old leader was paused, blocked, cut off or killed.
 */
import { leaseMarginMs } from "./master-lease.ts";

/** The lease of a handler run: one election timeout. */
export function handlerLeaseMs(electionTimeoutMs: number): number {
  return electionTimeoutMs;
}

/** Upper bound on the watchdog's lateness beyond a deadline, and on SIGKILL's delivery. */
export const WATCHDOG_REACTION_MS = 100;

/** How often a leader with runs in flight asks a quorum to confirm it, renewing their leases. */
export function handlerRenewEveryMs(electionTimeoutMs: number): number {
  return Math.max(1, Math.floor(handlerLeaseMs(electionTimeoutMs) / 4));
}

/**
 * How long after taking over a new leader waits before it runs attempt + 1 of a pair an
 * earlier leader started and never finished: L + R + M (see the module comment).
 */
export function handlerRerunWaitMs(electionTimeoutMs: number): number {
  const lease = handlerLeaseMs(electionTimeoutMs);
  return lease + WATCHDOG_REACTION_MS + leaseMarginMs(lease);
}
