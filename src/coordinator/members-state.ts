/**
 * The committed member table, folded from the event log: every elector applies the same
 * events, so every elector holds the same table, and the table can never disagree with the
 * log that explains it. Handlers receive this view on stdin (through member-view.ts).
 *
 * Invariants:
 * - a member's health (`up`/`down`/`left`) and its maintenance flag are stored once each and
 *   change independently: health only on member-joined/up/down/left, maintenance only on
 *   member-drained/undrained, so a drained member that goes down and comes back is still
 *   drained, and one that leaves and rejoins is too;
 * - the status anyone reads is derived from those two by `memberStatus` (contract/), never
 *   stored, so no two copies can disagree;
 * - events about a member the table does not know are ignored, except member-joined;
 * - a member's check states come from member-joined (first join, or a re-join after an agent
 *   restart), member-up (when it carries `checks`) and check-failing / check-passing; a state
 *   that is not a known one is stored as `pending`, never as passing.
 */
import { type CheckState, isCheckState } from "../contract/check-state.ts";
import type { Event } from "../contract/events.ts";
import { healthOf, isMemberStatus, type MemberHealth, memberStatus } from "../contract/member-status.ts";
import type { MemberView } from "../contract/member-view.ts";

/** One member as the cluster has committed it: what the table stores and snapshots. */
export interface MemberRecord extends Pick<MemberView, "name" | "address" | "checks"> {
  /** Its health as the leader's failure detection committed it. */
  readonly health: MemberHealth;
  /** Maintenance mode (`conclave drain`), kept apart from health. */
  readonly maintenance: boolean;
  /** The names of the services it runs (the view adds each one's master state). */
  readonly services: readonly string[];
  /** The id of the event that last changed this member. */
  readonly since: number;
}

/** A committed member as the table answers it: the record and its derived `status`. */
export interface CommittedMember extends MemberRecord, Pick<MemberView, "status"> {}

/**
 * A member as snapshots written before the status was derived stored it: the status itself,
 * and beside it the maintenance flag (absent in the oldest snapshots).
 */
export interface LegacyMemberRecord extends Pick<
  MemberRecord,
  "name" | "address" | "services" | "checks" | "since"
> {
  /** `drained` meant up and in maintenance. */
  readonly status: MemberView["status"];
  /** Maintenance mode, when the snapshot kept it. */
  readonly drained?: boolean;
}

/** A member of the table's snapshot data, in the current or the legacy shape. */
export type MemberSnapshotRecord = MemberRecord | LegacyMemberRecord;

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

/**
 * The check states of a member-joined / member-up event. Deterministic, like all of this
 * table: a value that is not a known state (none is accepted from members today) is `pending`,
 * so nothing unchecked is ever read as passing.
 */
function checkStates(v: unknown): Record<string, CheckState> {
  const out: Record<string, CheckState> = {};
  if (typeof v === "object" && v !== null) {
    for (const [k, s] of Object.entries(v)) out[k] = isCheckState(s) ? s : "pending";
  }
  return out;
}

const isObject = (v: unknown): boolean => typeof v === "object" && v !== null && !Array.isArray(v);

/** `r` with its fields in one fixed order, so equal tables snapshot to equal bytes. */
function record(r: MemberRecord): MemberRecord {
  return {
    name: r.name,
    address: r.address,
    health: r.health,
    maintenance: r.maintenance,
    services: r.services,
    checks: r.checks,
    since: r.since,
  };
}

/**
 * A snapshot's member in the current shape. A legacy record's `drained` status becomes health
 * `up` with maintenance on; its `drained` flag, when present, is the maintenance flag. So every
 * legacy record derives the status it stored.
 */
export function memberFromSnapshot(m: MemberSnapshotRecord): MemberRecord {
  if ("health" in m) return record({ ...m, maintenance: m.maintenance === true });
  const status = isMemberStatus(m.status) ? m.status : "up";
  return record({
    ...m,
    health: healthOf(status),
    maintenance: status === "drained" || m.drained === true,
  });
}

/** The member as readers see it: the record with its derived status. */
function committed(r: MemberRecord): CommittedMember {
  return { ...r, status: memberStatus(r.health, r.maintenance) };
}

/** The member section of the state machine. */
export class MembersState {
  private readonly members = new Map<string, MemberRecord>();
  /** Invariant: how many records have not left (what the members cap counts). */
  private active = 0;

  /** Members that have not left: up, down or drained (the members cap counts these). */
  get activeCount(): number {
    return this.active;
  }

  /** Whether a member of this name is in the table (left ones included). */
  has(name: string): boolean {
    return this.members.has(name);
  }

  private store(r: MemberRecord): void {
    const old = this.members.get(r.name);
    if (old && old.health !== "left") this.active--;
    if (r.health !== "left") this.active++;
    this.members.set(r.name, r);
  }

  /** Fold one committed event into the table (events about other things are ignored). */
  apply(e: Event): void {
    const name = e.member;
    if (name === null) return;
    const old = this.members.get(name);
    const set = (patch: Partial<MemberRecord>) => {
      const base: MemberRecord = old ?? {
        name,
        address: "",
        health: "up",
        maintenance: false,
        services: [],
        checks: {},
        since: e.id,
      };
      this.store(record({ ...base, ...patch, since: e.id }));
    };
    switch (e.type) {
      case "member-joined":
        set({
          health: "up",
          address: typeof e.details.address === "string" ? e.details.address : (old?.address ?? ""),
          services: strings(e.details.services),
          checks: checkStates(e.details.checks),
        });
        return;
      case "member-up":
        // `checks`, when present, are the states the member registered with (after an agent
        // restart: pending); older member-up events carry none and keep the recorded ones.
        if (old)
          set({
            health: "up",
            ...(isObject(e.details.checks) ? { checks: checkStates(e.details.checks) } : {}),
          });
        return;
      case "member-down":
        if (old) set({ health: "down" });
        return;
      case "member-left":
        if (old) set({ health: "left" });
        return;
      case "member-drained":
        if (old) set({ maintenance: true });
        return;
      case "member-undrained":
        if (old) set({ maintenance: false });
        return;
      case "check-failing":
      case "check-passing": {
        const check = e.details.check;
        if (old && typeof check === "string") {
          set({ checks: { ...old.checks, [check]: e.type === "check-failing" ? "failing" : "passing" } });
        }
        return;
      }
      default:
        return;
    }
  }

  /** Every member, sorted by name. */
  list(): CommittedMember[] {
    return this.records().map(committed);
  }

  /** One member, if known. */
  get(name: string): CommittedMember | undefined {
    const r = this.members.get(name);
    return r && committed(r);
  }

  /** How many members are up, down and drained (members that left are not counted). */
  counts(): { up: number; down: number; drained: number } {
    const c = { up: 0, down: 0, drained: 0 };
    for (const m of this.members.values()) {
      const status = memberStatus(m.health, m.maintenance);
      if (status !== "left") c[status]++;
    }
    return c;
  }

  /** Plain data for a snapshot: the stored records, sorted by name (no derived status). */
  snapshot(): MemberRecord[] {
    return this.records();
  }

  /** Replace the table from snapshot data, in the current or the legacy shape. */
  restore(data: readonly MemberSnapshotRecord[]): void {
    this.members.clear();
    this.active = 0;
    for (const m of data) this.store(memberFromSnapshot(m));
  }

  private records(): MemberRecord[] {
    return [...this.members.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
