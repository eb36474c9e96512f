/**
 * The gate in front of raft for messages from peers: never persist what cannot be loaded.
 * A snapshot must load (coordinator/snapshot-check.ts: a forged one of non-JSON data would
 * make every restart fail); a conf entry must pass coordinator/conf-change-rules.ts (raft
 * takes a configuration from its log as soon as the entry is appended, and a 70,000-byte
 * elector name makes the next snapshot unwritable). A refused message is dropped whole and
 * logged once per distinct refusal, not at every retry of the same message.
 */
import type { Logger } from "pino";
import type { Message, NodeId } from "../../raft/index.ts";
import { confChangeEntryProblem } from "../coordinator/conf-change-rules.ts";
import { checkSnapshot } from "../coordinator/snapshot-check.ts";

/** Why a peer message must not reach raft. `key` names the refusal (for logging it once). */
export interface PeerMessageRefusal {
  readonly key: string;
  readonly what: string;
  readonly reason: string;
}

/** Why `m` must not reach raft, or null. `founders` seed a scratch state machine for a snapshot. */
export function peerMessageRefusal(
  m: Message,
  founders: ReadonlyMap<NodeId, string>,
): PeerMessageRefusal | null {
  if (m.type === "snap" && m.snapshot) {
    const v = checkSnapshot(m.snapshot, founders);
    if (v.ok) return null;
    return {
      key: `snap:${m.from}:${m.snapshot.meta.term}:${m.snapshot.meta.index}`,
      what: "refused a snapshot from a peer that would not load: not persisted, keeping the old state",
      reason: v.reason,
    };
  }
  for (const e of m.entries) {
    if (e.type !== "conf") continue;
    const problem = confChangeEntryProblem(e.data);
    if (problem === null) continue;
    return {
      key: `conf:${m.from}:${e.term}:${e.index}`,
      what: "refused entries from a peer carrying a bad membership change: not persisted",
      reason: `entry ${e.index}: ${problem}`,
    };
  }
  return null;
}

/** Checks peer messages and logs each distinct refusal once (the last one is remembered). */
export class PeerMessageGate {
  private lastRefusal: string | null = null;

  constructor(
    private readonly founders: ReadonlyMap<NodeId, string>,
    private readonly logger: Logger,
  ) {}

  /** Whether `m` may be stepped into raft; a refusal is logged unless it repeats the last one. */
  admits(m: Message): boolean {
    const refusal = peerMessageRefusal(m, this.founders);
    if (refusal === null) return true;
    if (refusal.key !== this.lastRefusal) {
      this.lastRefusal = refusal.key;
      this.logger.error(
        { from: m.from, type: m.type, index: m.snapshot?.meta.index ?? m.index, reason: refusal.reason },
        refusal.what,
      );
    }
    return false;
  }
}
