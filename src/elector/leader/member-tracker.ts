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
 * Check states (contract/check-state.ts): the tracker keeps the latest state each member
 * reported for each check (its registration, then its check reports) and, on every
 * registration, report and heartbeat, brings the committed view in line with it:
 * - a member that is not known (or left) joins with those states (`member-joined`);
 * - a `down` member comes back with them (`member-up` with `checks`);
 * - a member that is up but reports a check `pending` whose committed state is `passing` or
 *   `failing` has restarted its agent: it re-joins (`member-joined` again, with the states it
 *   reports), so the view says `pending` and handlers subscribed to member-joined run;
 * - otherwise each check it reports `passing` or `failing` that differs from the committed
 *   state (`pending`, the other one, or not known) is committed as `check-passing` /
 *   `check-failing`. A `pending` report alone never proposes a check event.
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
  /** The state of each of its checks now (validated by the member service). */
  readonly checks: Readonly<Record<string, CheckState>>;
}

/** The latest state a member reported for one check, and what that run saw. */
interface Reported {
  readonly state: CheckState;
  readonly detail: string;
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
  /** Per member, the latest state it reported for each check (kept like registrations). */
  private readonly reported = new Map<string, Map<string, Reported>>();
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
    this.reported.clear();
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
    // The registration says where every check stands now; reports on this stream follow it.
    // Check changes reported to an earlier leader may not have been committed: the states a
    // member registers with are compared with the committed ones (see the module comment).
    const states = new Map<string, Reported>();
    for (const [check, state] of Object.entries(reg.checks)) {
      if (isCheckState(state)) states.set(check, { state, detail: "" });
    }
    this.reported.set(reg.name, states);
    this.heard(reg.name);
  }

  /** When this leader last heard from `name` (monotonic ms), if it has since taking over. */
  lastSeenAt(name: string): number | undefined {
    return this.lastSeen.get(name);
  }

  /**
   * A member's check crossed its threshold (or, from a registration, stands where it does).
   * Remembered as the member's latest word on the check, and committed as check-failing /
   * check-passing when it differs from the committed state. A repeat proposes nothing; a
   * report about a member that has not joined yet is carried by its member-joined.
   */
  checkReported(name: string, check: string, state: CheckState, detail: string): void {
    let states = this.reported.get(name);
    if (states === undefined) {
      states = new Map();
      this.reported.set(name, states);
    }
    states.set(check, { state, detail });
    if (!this.tenure.active) return;
    this.reconcile(name);
  }

  /** A member reported (registration or heartbeat). */
  heard(name: string): void {
    if (!this.tenure.active) return;
    this.lastSeen.set(name, this.o.now());
    this.reconcile(name);
  }

  /** The check states `name` reports now, as an event's `checks` (undefined: it told us none). */
  private reportedChecks(name: string): Record<string, CheckState> | undefined {
    const states = this.reported.get(name);
    if (states === undefined) return undefined;
    const out: Record<string, CheckState> = {};
    for (const [check, r] of states) out[check] = r.state;
    return out;
  }

  /** Propose what brings the committed view of `name` in line with its reports (module comment). */
  private reconcile(name: string): void {
    const m = this.o.member(name);
    const reg = this.registrations.get(name);
    const checks = this.reportedChecks(name);
    const join = (r: MemberRegistration) =>
      this.proposeOnce({
        type: "member-joined",
        member: name,
        details: { address: r.address, services: [...r.services], checks: { ...(checks ?? r.checks) } },
      });
    if (m === undefined || m.status === "left") {
      if (reg) join(reg);
      return;
    }
    if (m.status === "down") {
      this.proposeOnce({ type: "member-up", member: name, details: checks ? { checks } : {} });
      return;
    }
    const states = this.reported.get(name);
    if (states === undefined) return;
    const committed = m.checks ?? {};
    // A check pending here but settled in the view: the agent restarted since it was committed.
    const restarted = [...states].some(([check, r]) => {
      const c = committed[check];
      return r.state === "pending" && c !== undefined && c !== "pending";
    });
    if (restarted) {
      if (reg) join(reg);
      return;
    }
    for (const [check, r] of states) {
      if (r.state === "pending" || committed[check] === r.state) continue;
      this.proposeOnce(
        {
          type: r.state === "failing" ? "check-failing" : "check-passing",
          member: name,
          details: { check, ...(r.detail ? { detail: r.detail.slice(0, 500) } : {}) },
        },
        `${name}\u0000check\u0000${check}`,
      );
    }
  }

  /** A member said goodbye. */
  left(name: string): void {
    if (!this.tenure.active) return;
    this.lastSeen.delete(name);
    this.registrations.delete(name);
    this.reported.delete(name);
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
