/**
 * The leader's half of "at most one master per service" (docs/services-and-masters.md).
 *
 * For each service it keeps one master among the members that run it, are up (not down,
 * drained or left), were heard from recently, and whose `service:NAME` status check, if the
 * service has one, is `passing`: not `failing`, and not `pending` (an agent that has just
 * started or restarted has not checked the service yet), neither in the committed view nor in
 * what the member last reported to this leader. The current master is preferred (and the
 * target of `conclave promote`). Every change is a committed event: `master-demoted` first,
 * `master-promoted` with a higher epoch after. A member that reports its status check pending
 * (it restarted) is granted nothing for that service, so it does not run `promote` before
 * the check has passed, even while the view still names it master.
 *
 * Invariant (the leader half; service-manager.ts has the member half): a replacement is
 * promoted only once the previous master is known to be down, which is either
 * - confirmed: it reported the service `standby` (or `failed`) at an epoch at least the
 *   demoted one, after it stopped being granted it; or
 * - implied by the lease: no acknowledgement granting the service has been sent for
 *   `master_lease` plus a margin (after a leader change, counting from when the previous
 *   leader must have stepped down, since it may have granted until then).
 * Grants are only ever computed from the committed masters, at the moment an acknowledgement
 * is built, and that moment is recorded per service.
 *
 * A {@link LeaderRole}: the elector activates it with the other leader-only parts.
 */
import type { Logger } from "pino";
import type { JsonObject } from "../../contract/canonical-json.ts";
import { leaseMarginMs } from "../../contract/master-lease.ts";
import type { MastersState } from "../../coordinator/masters-state.ts";
import type { MembersState } from "../../coordinator/members-state.ts";
import { type CheckState, serviceCheckName } from "../../contract/check-state.ts";
import { LeaderTenure, type LeaderRole } from "./leader-role.ts";

/** A service's role on a member, as the member last reported it. */
export interface ReportedRole {
  readonly state: string;
  readonly epoch: number;
}

/** A master event the keeper wants committed. */
export interface MasterEventProposal {
  readonly type: "master-promoted" | "master-demoted";
  readonly member: string;
  readonly service: string;
  readonly details: JsonObject;
}

/** Options of {@link MasterKeeper}. */
export interface MasterKeeperOptions {
  readonly leaseMs: number;
  readonly electionTimeoutMs: number;
  readonly memberTimeoutMs: number;
  /** Monotonic milliseconds. */
  readonly now: () => number;
  readonly masters: MastersState;
  readonly members: MembersState;
  /** When this leader last heard from a member (monotonic ms), if it has this term. */
  readonly lastSeen: (member: string) => number | undefined;
  /** Propose an event; resolves when committed. */
  readonly propose: (e: MasterEventProposal) => Promise<void>;
  /**
   * When a promotion becomes safe, from what the keeper knows ({@link waitOutLease} when
   * absent). Only the fault-injection switch substitutes another (src/fault-injection/).
   */
  readonly promotionSafeAt?: PromotionWait;
  readonly logger: Logger;
}

/** What the keeper knows, for one service, when it asks whether it may promote. */
export interface PromotionFacts {
  /** The previous master reported the service down at (at least) the demoted epoch. */
  readonly confirmedDown: boolean;
  /** When this leader last built an acknowledgement granting the service (leader clock). */
  readonly lastGrantAt: number | undefined;
  /**
   * When the previous leader must have stepped down (leader clock), if the service has a
   * master record (its grants may be of earlier terms); null when it has none.
   */
  readonly previousLeaderGoneAt: number | null;
  readonly leaseMs: number;
}

/** The leader-clock time from which a promotion is safe. */
export type PromotionWait = (f: PromotionFacts) => number;

/**
 * The rule (module comment): at once when the previous master confirmed it is down;
 * otherwise once every grant it may hold has run out, the lease plus a margin after the last
 * grant of this leader, and after the previous leader's last possible grant.
 */
export const waitOutLease: PromotionWait = (f) => {
  if (f.confirmedDown) return 0;
  const lease = f.leaseMs + leaseMarginMs(f.leaseMs);
  const leaseEnd = f.lastGrantAt === undefined ? 0 : f.lastGrantAt + lease;
  // Grants of earlier terms: until the old leader is gone, then a full lease after.
  const earlier = f.previousLeaderGoneAt === null ? 0 : f.previousLeaderGoneAt + lease;
  return Math.max(leaseEnd, earlier);
};

/** Why a switchover cannot be done. */
export class SwitchoverError extends Error {
  override readonly name = "SwitchoverError";
}

/** The leader's master bookkeeping. Inactive unless this node leads. */
export class MasterKeeper implements LeaderRole {
  private readonly tenure: LeaderTenure;
  private readonly roles = new Map<string, Map<string, ReportedRole>>();
  /**
   * Per member, the check states it reported to this node (registration, then changes). Kept
   * from before activation, like the tracker's registrations: members register with a new
   * leader the moment it is known, before its leader-elected entry activates it.
   */
  private readonly checks = new Map<string, Map<string, CheckState>>();
  /** Per service: when an acknowledgement granting it was last built (leader clock). */
  private readonly lastGrant = new Map<string, number>();
  /** Per service: the member `conclave promote` asked for. */
  private readonly preferred = new Map<string, string>();
  /** Services with a proposal in flight. */
  private readonly pending = new Set<string>();
  /**
   * Promotion of a service with a master record is not allowed before this leader-clock
   * time: the previous leader may have granted any service until it stepped down.
   */
  private notBefore = 0;

  constructor(private readonly o: MasterKeeperOptions) {
    this.tenure = new LeaderTenure(o.now);
  }

  /** Whether this keeper decides (this node leads and is active). */
  get isActive(): boolean {
    return this.tenure.active;
  }

  /** This node became leader in `term` (its leader-elected entry is applied). */
  becameLeader(term: number): void {
    this.tenure.begin(term);
    this.roles.clear();
    this.pending.clear();
    this.lastGrant.clear();
    this.notBefore = this.tenure.predecessorGoneAt(this.o.electionTimeoutMs);
  }

  /** This node no longer leads: decide nothing, forget reports, grants and switchover requests. */
  lostLeadership(): void {
    this.tenure.end();
    this.roles.clear();
    this.checks.clear();
    this.pending.clear();
    this.lastGrant.clear();
    this.preferred.clear();
  }

  /** A member's report of its services. */
  report(member: string, roles: readonly { service: string; state: string; epoch: number }[]): void {
    if (!this.tenure.active) return;
    this.roles.set(member, new Map(roles.map((r) => [r.service, { state: r.state, epoch: r.epoch }])));
  }

  /** A member registered with these check states (replacing what it reported before). */
  checksReported(member: string, checks: Readonly<Record<string, CheckState>>): void {
    this.checks.set(member, new Map(Object.entries(checks)));
  }

  /** A member reported a check's new state. */
  checkReported(member: string, check: string, state: CheckState): void {
    let states = this.checks.get(member);
    if (states === undefined) {
      states = new Map();
      this.checks.set(member, states);
    }
    states.set(check, state);
  }

  /**
   * Why `member`'s status check for `service` keeps it from being master (`failing` or
   * `pending`, in the committed view or in its last report here), or null: it is passing, or
   * the service has no status check.
   */
  private statusProblem(member: string, service: string): "failing" | "pending" | null {
    const name = serviceCheckName(service);
    const committed = this.o.members.get(member)?.checks[name];
    const reported = this.checks.get(member)?.get(name);
    for (const s of [committed, reported]) if (s === "failing") return "failing";
    for (const s of [committed, reported]) if (s === "pending") return "pending";
    return null;
  }

  /** The member's reported role for a service. */
  reported(member: string, service: string): ReportedRole | undefined {
    return this.roles.get(member)?.get(service);
  }

  /**
   * The grants for an acknowledgement to `member` being built now: the services it is the
   * committed master of. Records the moment, which fences the next promotion.
   */
  grantsFor(member: string): { service: string; epoch: number }[] {
    if (!this.tenure.active) return [];
    const out: { service: string; epoch: number }[] = [];
    const now = this.o.now();
    for (const [service, epoch] of this.o.masters.mastersOf(member)) {
      // Restarted and not checked yet: no grant, so it does not promote on an unchecked status.
      if (this.checks.get(member)?.get(serviceCheckName(service)) === "pending") continue;
      this.lastGrant.set(service, now);
      out.push({ service, epoch });
    }
    return out;
  }

  /** True when `member` reports `service` down at `epoch` or later. */
  private confirmedDown(member: string, service: string, epoch: number): boolean {
    const r = this.reported(member, service);
    return r !== undefined && (r.state === "standby" || r.state === "failed") && r.epoch >= epoch;
  }

  /** Members that may be master of `service` now, sorted by name. */
  candidates(service: string): string[] {
    const now = this.o.now();
    return this.o.members
      .list()
      .filter((m) => {
        if (m.status !== "up" || !m.services.includes(service)) return false;
        if (this.statusProblem(m.name, service) !== null) return false;
        if (this.reported(m.name, service)?.state === "failed") return false;
        const seen = this.o.lastSeen(m.name);
        return seen !== undefined && now - seen <= this.o.memberTimeoutMs;
      })
      .map((m) => m.name);
  }

  /** When a promotion of `service` becomes safe (leader clock). */
  safeAt(service: string): number {
    const rec = this.o.masters.get(service);
    return (this.o.promotionSafeAt ?? waitOutLease)({
      confirmedDown: rec?.lastDemoted ? this.confirmedDown(rec.lastDemoted, service, rec.epoch) : false,
      lastGrantAt: this.lastGrant.get(service),
      previousLeaderGoneAt: rec ? this.notBefore : null,
      leaseMs: this.o.leaseMs,
    });
  }

  /** Every service some member runs or that has a master record. */
  private services(): string[] {
    const s = new Set<string>();
    for (const m of this.o.members.list()) if (m.status !== "left") for (const x of m.services) s.add(x);
    for (const r of this.o.masters.list()) s.add(r.service);
    return [...s].sort();
  }

  /** Decide and propose; call periodically (every heartbeat or so) on the leader. */
  tick(): void {
    if (!this.tenure.active) return;
    const now = this.o.now();
    for (const service of this.services()) {
      if (this.pending.has(service)) continue;
      const rec = this.o.masters.get(service);
      const candidates = this.candidates(service);
      const master = rec?.master ?? null;
      if (master !== null && rec) {
        const wanted = this.preferred.get(service);
        let reason: string | null = null;
        if (this.confirmedDown(master, service, rec.epoch)) reason = "the master stepped down";
        else if (!candidates.includes(master)) reason = this.whyNot(master, service);
        else if (wanted !== undefined && wanted !== master && candidates.includes(wanted))
          reason = "switchover";
        if (reason !== null) {
          this.propose({
            type: "master-demoted",
            member: master,
            service,
            details: { epoch: rec.epoch, reason },
          });
        }
        continue;
      }
      if (candidates.length === 0 || now < this.safeAt(service)) continue;
      const wanted = this.preferred.get(service);
      const pick = wanted !== undefined && candidates.includes(wanted) ? wanted : candidates[0]!;
      this.propose({
        type: "master-promoted",
        member: pick,
        service,
        details: { epoch: (rec?.epoch ?? 0) + 1, ...(rec?.lastDemoted ? { previous: rec.lastDemoted } : {}) },
      });
    }
  }

  private whyNot(member: string, service: string): string {
    const m = this.o.members.get(member);
    if (!m) return "the master is unknown";
    if (m.status !== "up") return `the master is ${m.status}`;
    if (!m.services.includes(service)) return "the master no longer runs the service";
    const status = this.statusProblem(member, service);
    if (status !== null) return `the service's status check is ${status}`;
    if (this.reported(member, service)?.state === "failed") return "the service failed to promote";
    return "the master is not reporting";
  }

  private propose(e: MasterEventProposal): void {
    this.pending.add(e.service);
    this.o.logger.info(
      { event: e.type, service: e.service, member: e.member, ...e.details },
      "master change",
    );
    this.o.propose(e).then(
      () => {
        this.pending.delete(e.service);
        // A switchover is done once its target is master: from then on the current master is
        // preferred again, so the role does not move back by itself later.
        if (e.type === "master-promoted" && this.preferred.get(e.service) === e.member)
          this.preferred.delete(e.service);
      },
      (err: unknown) => {
        this.pending.delete(e.service);
        this.o.logger.warn({ err, event: e.type, service: e.service }, "could not commit a master change");
      },
    );
  }

  /**
   * `conclave promote SERVICE MEMBER`: make `member` the master of `service` (the current
   * master is demoted first, and confirmed down or its lease over, before the promotion).
   * @throws SwitchoverError when `member` cannot be master now (named reason)
   */
  requestSwitchover(service: string, member: string): void {
    if (!this.tenure.active) throw new SwitchoverError("this node is not the leader");
    const m = this.o.members.get(member);
    if (!m) throw new SwitchoverError(`no member named ${member}`);
    if (!m.services.includes(service)) throw new SwitchoverError(`${member} does not run ${service}`);
    if (!this.candidates(service).includes(member)) {
      throw new SwitchoverError(
        `${member} cannot be master of ${service} now: ${this.whyNot(member, service)}`,
      );
    }
    this.preferred.set(service, member);
  }
}
