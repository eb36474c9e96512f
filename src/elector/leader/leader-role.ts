/**
 * The one seam between the elector and what it does only while it leads.
 *
 * Each leader-only part (the member tracker, the master keeper, the handler runner) is a
 * {@link LeaderRole}. The elector keeps them in one list and drives them together: all of them
 * become active when this node's own `leader-elected` entry is applied (never earlier: only then
 * is everything its predecessors committed applied here, so no role acts on a stale view), all
 * of them stop at once when the known leader is someone else, and all of them get the same
 * ticks and committed events.
 *
 * {@link LeaderTenure} is the bookkeeping every role used to repeat: whether it is active, the
 * term it leads in, and when (on its monotonic clock) it took over, which is what the
 * "the old leader must have stepped down by now" bound counts from.
 */
import { oldLeaderGoneAfterMs } from "../../contract/master-lease.ts";
import type { Event } from "../../contract/events.ts";

/** Something the elector does only while it leads. */
export interface LeaderRole {
  /** Whether the role is acting: between {@link becameLeader} and {@link lostLeadership}. */
  readonly isActive: boolean;
  /**
   * This node's own `leader-elected` entry of `term` is applied: start acting, with every
   * earlier committed entry already applied. Per-term state starts afresh.
   */
  becameLeader(term: number): void;
  /**
   * Another node leads, no leader is known, or this node is stopping: stop at once and forget
   * per-term state. Idempotent; does nothing when not active.
   */
  lostLeadership(): void;
  /** Periodic work (about every half heartbeat). Does nothing while inactive. */
  tick?(): void;
  /**
   * A committed event was applied on this node (every node applies every event, in log
   * order; a role ignores it while inactive). Not called for the `leader-elected` entry that
   * activates the roles: {@link becameLeader} looks at the whole log instead.
   */
  eventCommitted?(event: Event): void;
}

/**
 * One role's record of its current leadership. Invariant: `active` is true exactly between
 * {@link begin} and {@link end}; `term` and `since` keep their last values after `end`.
 */
export class LeaderTenure {
  private activeTerm: number | null = null;
  private lastTerm = 0;
  private sinceMs = 0;

  /** @param now the role's monotonic clock, in milliseconds. */
  constructor(private readonly now: () => number) {}

  /** Whether this node leads for the role. */
  get active(): boolean {
    return this.activeTerm !== null;
  }

  /** The term of the current (or, once ended, the last) tenure; 0 before the first. */
  get term(): number {
    return this.lastTerm;
  }

  /** When the current (or last) tenure began, on the role's clock. */
  get since(): number {
    return this.sinceMs;
  }

  /** Leadership in `term` begins now. */
  begin(term: number): void {
    this.activeTerm = term;
    this.lastTerm = term;
    this.sinceMs = this.now();
  }

  /** Leadership ends. Returns whether it was active (so callers can skip a second cleanup). */
  end(): boolean {
    const was = this.active;
    this.activeTerm = null;
    return was;
  }

  /**
   * Whether leadership begun in `term` still holds. Work started in one tenure checks this
   * after every await: work whose tenure ended must not record anything.
   */
  holds(term: number): boolean {
    return this.activeTerm === term;
  }

  /**
   * When the predecessor must have stepped down, on the role's clock: it may still act (grant
   * master leases, run handlers) until one check-quorum period after this node took over.
   */
  predecessorGoneAt(electionTimeoutMs: number): number {
    return this.sinceMs + oldLeaderGoneAfterMs(electionTimeoutMs);
  }
}
