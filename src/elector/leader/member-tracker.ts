/**
 * Failure detection on the leader. It remembers when each member last reported and turns
 * what it sees into membership events for the log: `member-joined` on a first
 * registration, `member-down` after `memberTimeoutMs` without a report, `member-up` when
 * reports resume, `member-left` on a goodbye.
 *
 * Only the leader judges, and a new leader starts every member's clock at the moment it
 * took over: members get a full `memberTimeoutMs` to reconnect to it before anyone is
 * declared down, so a leader failover with healthy members produces no member-down.
 *
 * Decisions are proposals, not facts: the committed member view (which every elector
 * agrees on) is what the tracker compares against, and at most one proposal per member is
 * in flight at a time, so a slow commit never produces a duplicate event.
 *
 * A {@link LeaderRole}: the elector activates it with the other leader-only parts.
 */
import type { Logger } from "pino";
import type { JsonObject } from "../../contract/canonical-json.ts";
import { type CheckState, isCheckState } from "../../contract/check-state.ts";
import { healthOf, type MemberStatus } from "../../contract/member-status.ts";
import type { MemberView } from "../../contract/member-view.ts";
import { LeaderTenure, type LeaderRole } from "./leader-role.ts";

/** What the tracker needs of the committed member view: name, status and (optionally) check states. */
export type TrackedMember = Pick<MemberView, "name" | "status"> & Partial<Pick<MemberView, "checks">>;

/** A membership event the tracker wants committed. */
export interface MemberEventProposal {
  readonly type:
    "member-joined" | "member-down" | "member-up" | "member-left" | "check-failing" | "check-passing";
  readonly member: string;
  readonly details: JsonObject;
}

/** What a member says when it (re)connects. */
export interface MemberRegistration {
  readonly name: string;
  readonly address: string;
  readonly services: readonly string[];
  readonly checks: Readonly<Record<string, string>>;
}

/** Options of {@link MemberTracker}. */
export interface MemberTrackerOptions {
  memberTimeoutMs: number;
  /** Monotonic milliseconds (performance.now in production, a counter in tests). */
  now: () => number;
  /** The committed member view. */
  members: () => Iterable<TrackedMember>;
  /** One member of the committed view (called on every heartbeat, so a direct lookup). */
  member: (name: string) => TrackedMember | undefined;
  /** Propose an event; resolves when committed, rejects when it could not be. */
  propose: (event: MemberEventProposal) => Promise<void>;
  logger: Logger;
}

/** The leader's failure detector. Inactive (ignores everything) unless this node leads. */
export class MemberTracker implements LeaderRole {
  private readonly tenure: LeaderTenure;
  /** When this leader last heard from each member (monotonic ms); empty while inactive. */
  private readonly lastSeen = new Map<string, number>();
  private readonly registrations = new Map<string, MemberRegistration>();
  /** Members with a proposal in flight: no second one until it settles. */
  private readonly pending = new Set<string>();

  constructor(private readonly o: MemberTrackerOptions) {
    this.tenure = new LeaderTenure(o.now);
  }

  /**
   * This node became leader in `term`: start every member's grace period now. Registrations
   * received while not yet active are kept (see {@link registered}).
   */
  becameLeader(term: number): void {
    this.tenure.begin(term);
    this.lastSeen.clear();
    this.pending.clear();
  }

  /** This node is no longer leader: stop judging, forget what members said. */
  lostLeadership(): void {
    this.tenure.end();
    this.lastSeen.clear();
    this.registrations.clear();
    this.pending.clear();
  }

  /** Whether this tracker is judging (this node leads). */
  get isActive(): boolean {
    return this.tenure.active;
  }

  private status(name: string): MemberStatus | undefined {
    return this.o.member(name)?.status;
  }

  /**
   * A member registered on a stream to this node. The registration is kept even while the
   * tracker is not yet active: a new leader's streams are redirected to it at once, but it
   * activates only when its own leader-elected entry is applied, a moment later. Dropping
   * the registration then would leave a first-time member registered on a stream yet never
   * joined (its heartbeats carry no address to join with). `lostLeadership` forgets them.
   */
  registered(reg: MemberRegistration): void {
    this.registrations.set(reg.name, reg);
    this.heard(reg.name);
    // Check changes reported to an earlier leader may not have been committed: the states a
    // member registers with are compared with the committed ones.
    for (const [check, state] of Object.entries(reg.checks)) {
      if (isCheckState(state)) this.checkReported(reg.name, check, state, "");
    }
  }

  /** When this leader last heard from `name` (monotonic ms), if it has since taking over. */
  lastSeenAt(name: string): number | undefined {
    return this.lastSeen.get(name);
  }

  /**
   * A member's check crossed its threshold. Committed as check-failing / check-passing when
   * it differs from the committed state (a repeat, or a report about a member that has not
   * joined yet, proposes nothing: member-joined carries the states it registered with).
   */
  checkReported(name: string, check: string, state: CheckState, detail: string): void {
    if (!this.tenure.active) return;
    const m = this.o.member(name);
    if (m === undefined || m.status === "left") return;
    if ((m.checks?.[check] ?? "passing") === state) return;
    this.proposeOnce(
      {
        type: state === "failing" ? "check-failing" : "check-passing",
        member: name,
        details: { check, ...(detail ? { detail: detail.slice(0, 500) } : {}) },
      },
      `${name}\u0000check\u0000${check}`,
    );
  }

  /** A member reported (registration or heartbeat). */
  heard(name: string): void {
    if (!this.tenure.active) return;
    this.lastSeen.set(name, this.o.now());
    const status = this.status(name);
    const reg = this.registrations.get(name);
    if (status === undefined || status === "left") {
      if (reg) {
        this.proposeOnce({
          type: "member-joined",
          member: name,
          details: { address: reg.address, services: [...reg.services], checks: { ...reg.checks } },
        });
      }
    } else if (status === "down") {
      this.proposeOnce({ type: "member-up", member: name, details: {} });
    }
  }

  /** A member said goodbye. */
  left(name: string): void {
    if (!this.tenure.active) return;
    this.lastSeen.delete(name);
    this.registrations.delete(name);
    const status = this.status(name);
    if (status !== undefined && status !== "left") {
      this.proposeOnce({ type: "member-left", member: name, details: {} });
    }
  }

  /** Judge silence: call periodically (every heartbeat or so). */
  tick(): void {
    if (!this.tenure.active) return;
    const now = this.o.now();
    for (const m of this.o.members()) {
      if (healthOf(m.status) !== "up") continue;
      // Not heard from since taking over: the grace period counts from the takeover.
      const last = this.lastSeen.get(m.name) ?? this.tenure.since;
      const silentMs = now - last;
      if (silentMs > this.o.memberTimeoutMs) {
        this.proposeOnce({
          type: "member-down",
          member: m.name,
          details: { silent_ms: Math.round(silentMs) },
        });
      }
    }
  }

  /** Propose unless a proposal with the same key (by default, about the same member) is in flight. */
  private proposeOnce(event: MemberEventProposal, key: string = event.member): void {
    if (this.pending.has(key)) return;
    this.pending.add(key);
    this.o.propose(event).then(
      () => this.pending.delete(key),
      (err: unknown) => {
        this.pending.delete(key);
        this.o.logger.warn(
          { err, event: event.type, member: event.member },
          "could not commit a member event",
        );
      },
    );
  }
}
