/**
 * One reconciliation of the managed name with the member view, fenced: read what the server
 * has, decide the records (dns-records-plan.ts), and send one update that applies them only
 * if nothing changed since the read.
 *
 * Invariants:
 * - The update's prerequisites are exactly what was read: the fence TXT RRset, the A RRset
 *   and the AAAA RRset (each "exists with these records" or "does not exist"). So the update
 *   applies to the state the plan was computed from, or not at all; a writer that changed
 *   the name in between (another run, an operator) makes it fail, and we read again.
 * - The fence TXT record is replaced in the same transaction as the addresses, so the stored
 *   fence is always that of the run whose records are on the server.
 * - A run whose fence is older than the stored fence sends no update at all.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { UpdateResult } from "./dns-client.ts";
import { planRecords } from "./dns-records-plan.ts";
import { decodeTxt, encodeTxt, type ResourceRecord, RRClass, RRType } from "./dns-wire.ts";
import { compareFences, HandlerInputError, type MemberView, parseFence } from "./handler-input.ts";
import { formatIp, type IpAddress, parseIp } from "./ip-bytes.ts";

/** The part of the DNS client a reconciliation needs (a fake in unit tests). */
export interface DnsApi {
  query(name: string, type: number): Promise<ResourceRecord[]>;
  update(
    zone: string,
    prerequisites: readonly ResourceRecord[],
    updates: readonly ResourceRecord[],
  ): Promise<UpdateResult>;
}

/** Options of {@link reconcile}. */
export interface ReconcileOptions {
  readonly dns: DnsApi;
  readonly zone: string;
  readonly name: string;
  readonly fenceName: string;
  readonly ttl: number;
  /** This run's `CONCLAVE_FENCE`. */
  readonly fence: string;
  readonly members: readonly MemberView[];
  readonly eventMember: string;
  readonly check: string | null;
  readonly minRecords: number;
  /** Prints a warning (stderr). */
  readonly warn: (line: string) => void;
  /** Reads and updates before giving up when other writers keep racing (default 5). */
  readonly maxAttempts?: number;
}

/** How a reconciliation ended. */
export type ReconcileOutcome =
  | {
      readonly kind: "updated";
      readonly records: readonly IpAddress[];
      /** Whether the A/AAAA records changed (the fence always does, unless equal). */
      readonly changed: boolean;
      readonly previousFence: string | null;
      readonly attempts: number;
    }
  | { readonly kind: "stale"; readonly storedFence: string };

/** Other writers changed the name on every attempt. */
export class FenceRaceError extends Error {
  override readonly name = "FenceRaceError";
}

/** What the server has for the name. */
interface Snapshot {
  readonly fenceRecords: readonly ResourceRecord[];
  readonly a: readonly ResourceRecord[];
  readonly aaaa: readonly ResourceRecord[];
}

/** The newest fence among the TXT records (unparseable ones are warned about and ignored). */
function storedFence(records: readonly ResourceRecord[], warn: (l: string) => void): [number, number] | null {
  let best: [number, number] | null = null;
  for (const rr of records) {
    const text = decodeTxt(rr.data).join("");
    try {
      const f = parseFence(text, `the TXT record of ${rr.name}`);
      if (!best || compareFences(f, best) > 0) best = f;
    } catch (e) {
      if (!(e instanceof HandlerInputError)) throw e;
      warn(`${e.message}; it will be replaced`);
    }
  }
  return best;
}

/** Prerequisite "this RRset is exactly `records`" (or "does not exist" when empty). */
function prerequisite(name: string, type: number, records: readonly ResourceRecord[]): ResourceRecord[] {
  if (records.length === 0) return [{ name, type, class: RRClass.NONE, ttl: 0, data: new Uint8Array(0) }];
  return records.map((rr) => ({ name, type, class: RRClass.IN, ttl: 0, data: rr.data }));
}

/** Updates "replace the RRset with `data`": delete it, then add each record. */
function replace(name: string, type: number, ttl: number, data: readonly Uint8Array[]): ResourceRecord[] {
  return [
    { name, type, class: RRClass.ANY, ttl: 0, data: new Uint8Array(0) },
    ...data.map((d) => ({ name, type, class: RRClass.IN, ttl, data: d })),
  ];
}

/** Whether the RRset `current` already is `wanted` with TTL `ttl`. */
function same(current: readonly ResourceRecord[], wanted: readonly IpAddress[], ttl: number): boolean {
  const have = new Set(current.map((rr) => formatIp(rr.data)));
  return (
    current.every((rr) => rr.ttl === ttl) &&
    have.size === current.length &&
    have.size === wanted.length &&
    wanted.every((w) => have.has(w.text))
  );
}

/** Read, plan and update until the update applies, the run proves stale, or attempts run out. */
export async function reconcile(o: ReconcileOptions): Promise<ReconcileOutcome> {
  const ours = parseFence(o.fence);
  const maxAttempts = o.maxAttempts ?? 5;
  let lastRcode = "";
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    const [fenceRecords, a, aaaa] = await Promise.all([
      o.dns.query(o.fenceName, RRType.TXT),
      o.dns.query(o.name, RRType.A),
      o.dns.query(o.name, RRType.AAAA),
    ]);
    const snap: Snapshot = { fenceRecords, a, aaaa };
    const stored = storedFence(snap.fenceRecords, o.warn);
    if (stored && compareFences(ours, stored) < 0) return { kind: "stale", storedFence: stored.join(":") };

    const current = [...snap.a, ...snap.aaaa]
      .map((rr) => parseIp(formatIp(rr.data)))
      .filter((ip): ip is IpAddress => ip !== null);
    const plan = planRecords({
      members: o.members,
      current,
      check: o.check,
      minRecords: o.minRecords,
      eventMember: o.eventMember,
    });
    const wantA = plan.records.filter((r) => r.type === "A");
    const wantAaaa = plan.records.filter((r) => r.type === "AAAA");
    const updates: ResourceRecord[] = [];
    if (!same(snap.a, wantA, o.ttl)) {
      updates.push(
        ...replace(
          o.name,
          RRType.A,
          o.ttl,
          wantA.map((r) => r.bytes),
        ),
      );
    }
    if (!same(snap.aaaa, wantAaaa, o.ttl)) {
      updates.push(
        ...replace(
          o.name,
          RRType.AAAA,
          o.ttl,
          wantAaaa.map((r) => r.bytes),
        ),
      );
    }
    const changed = updates.length > 0;
    updates.push(...replace(o.fenceName, RRType.TXT, o.ttl, [encodeTxt([o.fence])]));
    const prerequisites = [
      ...prerequisite(o.fenceName, RRType.TXT, snap.fenceRecords),
      ...prerequisite(o.name, RRType.A, snap.a),
      ...prerequisite(o.name, RRType.AAAA, snap.aaaa),
    ];
    const result = await o.dns.update(o.zone, prerequisites, updates);
    if (result.ok) {
      for (const w of plan.warnings) o.warn(w);
      return {
        kind: "updated",
        records: plan.records,
        changed,
        previousFence: stored ? stored.join(":") : null,
        attempts: attempt,
      };
    }
    lastRcode = result.rcode;
    o.warn(
      `${o.name} changed between our read and our update (${result.rcode}): reading again (attempt ${attempt} of ${maxAttempts})`,
    );
    await sleep(20 + Math.floor(Math.random() * 80 * attempt));
  }
  throw new FenceRaceError(
    `gave up after ${maxAttempts} attempts: ${o.name} kept changing between our read and our update (last ${lastRcode})`,
  );
}
