/**
 * The cluster-wide check definitions (`conclave checks apply FILE`), folded from
 * `checks-updated` events. The definitions are kept as the validated YAML-form objects the
 * leader committed (`details.checks`), so a member parses them with the same
 * `parseChecks` (config/check-schema.ts) as a local config; `version` is the id of the event that set them, and
 * is what a member compares to know it is up to date.
 */
import type { JsonValue } from "../contract/canonical-json.ts";
import type { Event } from "../contract/events.ts";

/** The committed cluster-wide checks. */
export interface ClusterChecks {
  /** The id of the `checks-updated` event that set them; 0 when none were ever applied. */
  readonly version: number;
  /** Check definitions in the YAML form of `checks:` (docs/checks.md) (keys such as `interval`). */
  readonly checks: readonly JsonValue[];
}

/** The cluster-checks section of the state machine. */
export class ClusterChecksState {
  private current: ClusterChecks = { version: 0, checks: [] };

  /** Fold one committed event (others are ignored). */
  apply(e: Event): void {
    if (e.type !== "checks-updated") return;
    const checks = e.details.checks;
    if (!Array.isArray(checks)) return;
    this.current = { version: e.id, checks };
  }

  /** The definitions in force. */
  get(): ClusterChecks {
    return this.current;
  }

  /** Plain data for a snapshot. */
  snapshot(): ClusterChecks {
    return this.current;
  }

  /** Replace the section from snapshot data. */
  restore(data: ClusterChecks | undefined): void {
    this.current = data ?? { version: 0, checks: [] };
  }
}
