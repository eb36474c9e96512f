/**
 * The committed member table, folded from the event log: every elector applies the same
 * events, so every elector holds the same table, and the table can never disagree with the
 * log that explains it. Handlers receive this view on stdin.
 */
import type { Event } from "./event-log.ts";
import type { MemberStatus } from "../contract/member-status.ts";
import type { CheckState } from "../contract/check-state.ts";

/** One member as the cluster has committed it. */
export interface MemberRecord {
  readonly name: string;
  readonly address: string;
  readonly status: MemberStatus;
  readonly services: readonly string[];
  readonly checks: Readonly<Record<string, CheckState>>;
  /**
   * Maintenance mode (`conclave drain`). Kept apart from health so that a drained member that
   * goes down and comes back is still drained: `status` is "drained" only while it is up.
   */
  readonly drained?: boolean;
  /** The id of the event that last changed this member. */
  readonly since: number;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}

function checkStates(v: unknown): Record<string, CheckState> {
  const out: Record<string, CheckState> = {};
  if (typeof v === "object" && v !== null) {
    for (const [k, s] of Object.entries(v)) out[k] = s === "failing" ? "failing" : "passing";
  }
  return out;
}

/** The member section of the state machine. */
export class MembersState {
  private readonly members = new Map<string, MemberRecord>();

  /** Fold one committed event into the table (events about other things are ignored). */
  apply(e: Event): void {
    const name = e.member;
    if (name === null) return;
    const old = this.members.get(name);
    const set = (patch: Partial<MemberRecord>) => {
      const base: MemberRecord = old ?? {
        name,
        address: "",
        status: "up",
        services: [],
        checks: {},
        since: e.id,
      };
      this.members.set(name, { ...base, ...patch, since: e.id });
    };
    switch (e.type) {
      case "member-joined":
        set({
          status: old?.drained ? "drained" : "up",
          address: typeof e.details.address === "string" ? e.details.address : (old?.address ?? ""),
          services: strings(e.details.services),
          checks: checkStates(e.details.checks),
        });
        return;
      case "member-up":
        if (old) set({ status: old.drained ? "drained" : "up" });
        return;
      case "member-undrained":
        if (old) set({ drained: false, status: old.status === "drained" ? "up" : old.status });
        return;
      case "member-down":
        if (old) set({ status: "down" });
        return;
      case "member-drained":
        if (old) set({ drained: true, status: old.status === "up" ? "drained" : old.status });
        return;
      case "member-left":
        if (old) set({ status: "left" });
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
  list(): MemberRecord[] {
    return [...this.members.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** One member, if known. */
  get(name: string): MemberRecord | undefined {
    return this.members.get(name);
  }

  /** How many members are up, down and drained (members that left are not counted). */
  counts(): { up: number; down: number; drained: number } {
    const c = { up: 0, down: 0, drained: 0 };
    for (const m of this.members.values()) if (m.status !== "left") c[m.status]++;
    return c;
  }

  /** Plain data for a snapshot. */
  snapshot(): MemberRecord[] {
    return this.list();
  }

  /** Replace the table from snapshot data. */
  restore(data: readonly MemberRecord[]): void {
    this.members.clear();
    for (const m of data) this.members.set(m.name, m);
  }
}
