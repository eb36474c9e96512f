/**
 * The stable-storage seam. Raft reads what the application has persisted through this
 * interface; it never writes: the application persists each Ready before `advance()`.
 * Reads are synchronous, so a disk-backed implementation keeps the live log in memory
 * (the log is small: it is compacted behind snapshots).
 */
import type { ConfState, Entry, HardState, Snapshot } from "./types.ts";

/**
 * The state every founding member of a cluster starts from: a snapshot at index 1, term 1
 * holding the founding configuration (and empty application data), with commit 1.
 *
 * Why a snapshot and not an empty log with a configuration beside it: a node that joins
 * later starts with an empty log and must learn the founding voter set from the cluster.
 * Since index 1 is compacted on every founder, the leader sends this snapshot to a new node
 * before any entry, so the new node replays later changes on the right base.
 */
export function bootstrapState(conf: ConfState): { snapshot: Snapshot; hardState: HardState } {
  return {
    snapshot: { meta: { index: 1, term: 1, conf }, data: new Uint8Array() },
    hardState: { term: 1, vote: "", commit: 1 },
  };
}

/** Read access to persisted Raft state. */
export interface Storage {
  /** The persisted hard state and the configuration of the latest snapshot (or bootstrap). */
  initialState(): { hardState: HardState; conf: ConfState };
  /**
   * Entries in [lo, hi), stopping early once `maxBytes` is exceeded (at least one entry is returned).
   * @throws CompactedError when lo <= the snapshot index; UnavailableError when hi > lastIndex + 1.
   */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /**
   * The term of entry `i`, for i in [firstIndex - 1, lastIndex] (firstIndex - 1 is the snapshot).
   * @throws CompactedError or UnavailableError outside that range.
   */
  term(i: number): number;
  /** Index of the last persisted entry (the snapshot index when the log is empty). */
  lastIndex(): number;
  /** Index of the first entry still available (snapshot index + 1). */
  firstIndex(): number;
  /** The most recent snapshot. */
  snapshot(): Snapshot;
}
