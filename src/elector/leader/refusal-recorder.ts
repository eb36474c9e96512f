/**
 * On the leader: what members say they refuse of the cluster-wide checks (a `command` check
 * or an `action` on a member without `allow_remote_commands: true`, contract/check-refusals.ts)
 * becomes `checks-refused` in the log, so `conclave checks list` shows it on every elector and
 * after any leader change.
 *
 * Like the member tracker, it compares with the committed state, not with what it proposed:
 * - it keeps each member's latest report (from its registration, then after each new set);
 * - on each report and heartbeat, a report about the version in force whose refusals differ
 *   from the committed ones of that member is proposed; a report about another version is
 *   kept but not proposed (the member is sent the version in force and reports again);
 * - at most one proposal per member is in flight, so a slow commit never duplicates it.
 *
 * A {@link LeaderRole}: it acts only while this node leads (a new leader starts with no
 * reports; members register again with theirs).
 */
import type { Logger } from "pino";
import { type CheckRefusals, refusalsFromWire, sameRefused } from "../../contract/check-refusals.ts";
import type { JsonObject } from "../../contract/canonical-json.ts";
import { LeaderTenure, type LeaderRole } from "./leader-role.ts";

/** The event the recorder wants committed. */
export interface RefusalProposal {
  readonly type: "checks-refused";
  readonly member: string;
  /** `{version, refused: {NAME: REASON}}` (docs/events.md). */
  readonly details: JsonObject;
}

/** What a report did: kept, or why it was not (for the member service's log). */
export type RefusalReportOutcome =
  { readonly kind: "kept" } | { readonly kind: "bad"; readonly problem: string };

/** Options of {@link RefusalRecorder}. */
export interface RefusalRecorderOptions {
  /** Monotonic milliseconds (performance.now in production). */
  readonly now: () => number;
  /** The committed refusals of `member` for the cluster-wide checks in force, and their version. */
  readonly committed: (member: string) => CheckRefusals;
  /** Propose an event; resolves when committed, rejects when it could not be. */
  readonly propose: (event: RefusalProposal) => Promise<void>;
  readonly logger: Logger;
}

/** The leader's recorder of members' refusals. Inactive unless this node leads. */
export class RefusalRecorder implements LeaderRole {
  private readonly tenure: LeaderTenure;
  /** Each member's latest report. Kept while not yet active, like the tracker's registrations. */
  private readonly reports = new Map<string, CheckRefusals>();
  /** Members with a proposal in flight. */
  private readonly pending = new Set<string>();

  constructor(private readonly o: RefusalRecorderOptions) {
    this.tenure = new LeaderTenure(o.now);
  }

  /** Whether this recorder is acting (this node leads). */
  get isActive(): boolean {
    return this.tenure.active;
  }

  /** This node leads in `term`: reports received meanwhile are kept. */
  becameLeader(term: number): void {
    this.tenure.begin(term);
    this.pending.clear();
  }

  /** Another node leads: forget every report. */
  lostLeadership(): void {
    this.tenure.end();
    this.reports.clear();
    this.pending.clear();
  }

  /**
   * `member` reported its refusals (proto `ChecksRefused`, in a registration or on its own).
   * Absent (`null`/`undefined`: an older member) changes nothing.
   */
  reported(member: string, wire: unknown): RefusalReportOutcome {
    if (wire === undefined || wire === null) return { kind: "kept" };
    const r = refusalsFromWire(wire);
    if (r.kind === "bad") return r;
    this.reports.set(member, r.refusals);
    this.reconcile(member);
    return { kind: "kept" };
  }

  /** `member` sent a heartbeat: propose what its last report still lacks in the log. */
  heard(member: string): void {
    this.reconcile(member);
  }

  /** The member left: its report is of no more use (the log clears its refusals). */
  left(member: string): void {
    this.reports.delete(member);
  }

  private reconcile(member: string): void {
    if (!this.tenure.active || this.pending.has(member)) return;
    const report = this.reports.get(member);
    if (report === undefined) return;
    const committed = this.o.committed(member);
    if (report.version !== committed.version || sameRefused(report.refused, committed.refused)) return;
    this.pending.add(member);
    const event: RefusalProposal = {
      type: "checks-refused",
      member,
      details: { version: report.version, refused: { ...report.refused } },
    };
    this.o.propose(event).then(
      () => this.pending.delete(member),
      (err: unknown) => {
        this.pending.delete(member);
        this.o.logger.warn({ err, member }, "could not commit checks-refused");
      },
    );
  }
}
