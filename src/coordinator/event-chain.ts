/**
 * The SHA-256 hash chain over committed events, so that `conclave audit verify` can find the
 * first altered, removed or reordered event. The exact definition (audits depend on it, so it
 * never changes within a snapshot version):
 *
 *     body(e)    = canonicalJson({ id, term, time, type, member, service, details })
 *     hash(e)    = lowercase hex SHA-256 of the UTF-8 bytes of  prevHash + "\n" + body(e)
 *     prevHash   = hash of the previous event; for the first event of the cluster, 64 zeros
 *                  (the genesis anchor); after retention dropped older events, the anchor's hash
 *
 * `canonicalJson` is defined in contract/canonical-json.ts (sorted keys, no whitespace, RFC
 * 8785 rules). Exactly those seven fields are hashed: `hash` itself is excluded, and any other
 * property on the object is ignored (snapshots refuse events that carry one).
 *
 * What the chain proves: each retained event is unaltered and in place relative to its
 * predecessor and the anchor. It cannot show that events were cut off the end; compare the
 * `head` of two electors for that.
 */
import { createHash } from "node:crypto";
import { canonicalJson } from "../contract/canonical-json.ts";
import type { Event } from "../contract/events.ts";

/** An event without its hash: what the hash is computed over. */
export type UnhashedEvent = Omit<Event, "hash">;

/** The last event before a stretch of chain: the chain after it is verified from its hash. */
export interface EventAnchor {
  /** The anchor event's id (0 for the genesis anchor, which is no event). */
  readonly id: number;
  /** The anchor event's hash: the `prevHash` of the first event after it. */
  readonly hash: string;
}

/** The previous hash of the first event ever: 64 zeros. */
export const ZERO_HASH = "0".repeat(64);

/** The anchor of a chain that starts at the first event ever (id 0 is no Raft entry's index). */
export const GENESIS_ANCHOR: EventAnchor = Object.freeze({
  id: 0,
  hash: ZERO_HASH,
});

/** The outcome of {@link verifyChain}: how many events were checked, or the first broken link. */
export type ChainVerdict =
  | { readonly ok: true; readonly checked: number }
  | { readonly ok: false; readonly id: number; readonly reason: string };

const HASH_RE = /^[0-9a-f]{64}$/;

/** Whether `v` is spelled as a chain hash: 64 lowercase hex digits. */
export function isHash(v: unknown): v is string {
  return typeof v === "string" && HASH_RE.test(v);
}

/**
 * The chained hash of `event` after `prevHash` (see the module comment):
 * hex SHA-256 of `prevHash + "\n" + canonicalJson({id, term, time, type, member, service, details})`.
 * @throws TypeError when `prevHash` is not 64 lowercase hex digits or a field is not JSON
 */
export function eventHash(prevHash: string, event: UnhashedEvent): string {
  if (!isHash(prevHash)) {
    throw new TypeError(
      `eventHash: previous hash ${JSON.stringify(prevHash)} is not 64 lowercase hex digits`,
    );
  }
  const { id, term, time, type, member, service, details } = event;
  const body = canonicalJson({
    id,
    term,
    time,
    type,
    member,
    service,
    details,
  });
  return createHash("sha256").update(`${prevHash}\n${body}`, "utf8").digest("hex");
}

/**
 * Recompute the chain of `events` (in the given order) from `anchor`, and report the first
 * broken link: an id that does not increase (`id N does not follow M`), or an event whose
 * stored hash differs from the recomputation (`hash mismatch: stored X, computed Y`).
 * An event whose content was altered is reported at its own id; a removed or moved event shows
 * at the event after the gap, whose predecessor hash no longer matches.
 * @param anchor where `events` start: the genesis anchor (64 zeros, id 0) unless older events were dropped
 */
export function verifyChain(events: readonly Event[], anchor: EventAnchor = GENESIS_ANCHOR): ChainVerdict {
  let prevId = anchor.id;
  let prevHash = anchor.hash;
  for (const e of events) {
    if (!Number.isSafeInteger(e.id) || e.id <= prevId) {
      return {
        ok: false,
        id: e.id,
        reason: `id ${e.id} does not follow ${prevId}`,
      };
    }
    let computed: string;
    try {
      computed = eventHash(prevHash, e);
    } catch (err) {
      return {
        ok: false,
        id: e.id,
        reason: `cannot hash: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
    if (e.hash !== computed) {
      return {
        ok: false,
        id: e.id,
        reason: `hash mismatch: stored ${e.hash}, computed ${computed}`,
      };
    }
    prevId = e.id;
    prevHash = e.hash;
  }
  return { ok: true, checked: events.length };
}
