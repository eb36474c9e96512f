/**
 * The cluster-wide check definitions (`conclave checks apply FILE`), folded from
 * `checks-updated` events, and what each member refuses of them, folded from
 * `checks-refused` (contract/check-refusals.ts). The definitions are kept as the validated
 * YAML-form objects the leader committed (`details.checks`), so a member parses them with the
 * same `parseChecks` (config/check-schema.ts) as a local config; `version` is the id of the
 * event that set them, and is what a member compares to know it is up to date.
 *
 * Invariants:
 * - every refusal kept is about the definitions in force: `checks-updated` clears them all
 *   (each member judges the new set and reports again), and a `checks-refused` for another
 *   version (proposed before a newer set committed) is ignored;
 * - a member with nothing refused has no entry, and a member that left has none (it runs
 *   nothing; it reports again when it registers);
 * - folding reads only the event, so every elector holds the same refusals.
 */
import { type CheckRefusals, type RefusedChecks, refusalsFromDetails } from "../contract/check-refusals.ts";
import type { JsonValue } from "../contract/canonical-json.ts";
import type { Event } from "../contract/events.ts";

/** The committed cluster-wide checks. */
export interface ClusterChecks {
  /** The id of the `checks-updated` event that set them; 0 when none were ever applied. */
  readonly version: number;
  /** Check definitions in the YAML form of `checks:` (docs/checks.md) (keys such as `interval`). */
  readonly checks: readonly JsonValue[];
}

/** The section's snapshot data: the definitions and, when any, the refusals by member. */
export interface ClusterChecksSnapshot extends ClusterChecks {
  /** Member name → its refused checks of `version`; absent in snapshots of older versions. */
  readonly refused?: Readonly<Record<string, RefusedChecks>>;
}

/** The cluster-checks section of the state machine. */
export class ClusterChecksState {
  private current: ClusterChecks = { version: 0, checks: [] };
  /** Member → the checks of `current.version` it refuses (never an empty map). */
  private readonly refusedBy = new Map<string, RefusedChecks>();

  /** Fold one committed event (others are ignored). */
  apply(e: Event): void {
    if (e.type === "checks-updated") {
      const checks = e.details.checks;
      if (!Array.isArray(checks)) return;
      this.current = { version: e.id, checks };
      this.refusedBy.clear();
    } else if (e.type === "checks-refused" && e.member !== null) {
      const r = refusalsFromDetails(e.details);
      if (r.kind === "bad" || r.refusals.version !== this.current.version) return;
      this.setRefused(e.member, r.refusals.refused);
    } else if (e.type === "member-left" && e.member !== null) {
      this.refusedBy.delete(e.member);
    }
  }

  private setRefused(member: string, refused: RefusedChecks): void {
    if (Object.keys(refused).length === 0) this.refusedBy.delete(member);
    else this.refusedBy.set(member, refused);
  }

  /** The definitions in force. */
  get(): ClusterChecks {
    return this.current;
  }

  /** What `member` refuses of the definitions in force (`refused: {}` when nothing). */
  refusalsOf(member: string): CheckRefusals {
    return { version: this.current.version, refused: this.refusedBy.get(member) ?? {} };
  }

  /** Every member that refuses something of the definitions in force, sorted by name. */
  refusals(): Record<string, RefusedChecks> {
    const out: Record<string, RefusedChecks> = {};
    for (const m of [...this.refusedBy.keys()].sort()) out[m] = this.refusedBy.get(m)!;
    return out;
  }

  /** Plain data for a snapshot (members sorted, so equal states snapshot to equal bytes). */
  snapshot(): ClusterChecksSnapshot {
    return this.refusedBy.size === 0 ? this.current : { ...this.current, refused: this.refusals() };
  }

  /**
   * Replace the section from snapshot data. Refusals that do not read as such are dropped,
   * never thrown on: they are only shown, and a member reports its refusals again.
   */
  restore(data: ClusterChecksSnapshot | undefined): void {
    this.current = data ? { version: data.version, checks: data.checks } : { version: 0, checks: [] };
    this.refusedBy.clear();
    const refused: unknown = data?.refused;
    if (typeof refused !== "object" || refused === null) return;
    for (const [member, checks] of Object.entries(refused)) {
      const r = refusalsFromDetails({ version: this.current.version, refused: checks });
      if (r.kind === "ok") this.setRefused(member, r.refusals.refused);
    }
  }
}
