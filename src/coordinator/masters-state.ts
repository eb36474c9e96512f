/**
 * The committed master of each service, folded from `master-promoted` / `master-demoted`.
 * Every elector applies the same events, so every elector agrees on who is master of what and
 * at which epoch. The leader's master keeper reads it to decide, and grants the master role
 * to members only from this view.
 *
 * Invariants: a service's `epoch` never decreases; `master-promoted` sets the master and the
 * epoch it carries; `master-demoted` clears the master only when it names the current master
 * and epoch (a stale demotion cannot clear a newer master).
 */
import type { Event } from "../contract/events.ts";

/** One service's committed master record. */
export interface MasterRecord {
  readonly service: string;
  /** The member that is master, or null when the service has none. */
  readonly master: string | null;
  /** The epoch of the latest promotion (0: never promoted). */
  readonly epoch: number;
  /** The member demoted last (null before any demotion), and the id of that event. */
  readonly lastDemoted: string | null;
  /** The id of the event that last changed this record. */
  readonly since: number;
}

/** The masters section of the state machine. */
export class MastersState {
  private readonly services = new Map<string, MasterRecord>();

  /** Fold one committed event (others are ignored). */
  apply(e: Event): void {
    if (e.type !== "master-promoted" && e.type !== "master-demoted") return;
    const service = e.service;
    const epoch = e.details.epoch;
    if (service === null || e.member === null || typeof epoch !== "number") return;
    const old = this.services.get(service) ?? {
      service,
      master: null,
      epoch: 0,
      lastDemoted: null,
      since: e.id,
    };
    if (e.type === "master-promoted") {
      if (epoch <= old.epoch) return;
      this.services.set(service, { ...old, master: e.member, epoch, since: e.id });
    } else if (old.master === e.member && old.epoch === epoch) {
      this.services.set(service, { ...old, master: null, lastDemoted: e.member, since: e.id });
    }
  }

  /** One service's record, if it ever had a master. */
  get(service: string): MasterRecord | undefined {
    return this.services.get(service);
  }

  /** Every service with a record, sorted by name. */
  list(): MasterRecord[] {
    return [...this.services.values()].sort((a, b) =>
      a.service < b.service ? -1 : a.service > b.service ? 1 : 0,
    );
  }

  /** The services `member` is master of, with their epochs. */
  mastersOf(member: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const r of this.services.values()) if (r.master === member) out.set(r.service, r.epoch);
    return out;
  }

  /** Plain data for a snapshot. */
  snapshot(): MasterRecord[] {
    return this.list();
  }

  /** Replace the section from snapshot data. */
  restore(data: readonly MasterRecord[]): void {
    this.services.clear();
    for (const r of data) this.services.set(r.service, r);
  }
}
