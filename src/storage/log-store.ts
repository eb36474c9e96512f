/**
 * The durable-storage seam of an elector. Raft reads through the synchronous {@link Storage}
 * methods (served from an in-memory mirror of the live log); the driver writes each Ready
 * through `persist`, one atomic, fsynced batch, before sending that Ready's messages.
 */
import type { ConfState, Entry, HardState, Snapshot, Storage } from "../../raft/index.ts";

/** What one Ready asks to make durable. */
export interface PersistBatch {
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  /**
   * Whether the write must reach stable storage before `persist` resolves (default true).
   * The driver passes false when only the commit index changed, as etcd's MustSync does: a
   * commit index lost in a crash is safely learned again from the leader.
   */
  readonly sync?: boolean;
}

/** Durable Raft storage. */
export interface LogStore extends Storage {
  /**
   * Make a Ready's snapshot, entries and hard state durable in ONE atomic write with fsync.
   * Entries overwrite any existing suffix from their first index (a follower's conflict
   * resolution); a snapshot replaces the whole log. Resolves only once on stable storage.
   */
  persist(batch: PersistBatch): Promise<void>;
  /**
   * Store an application snapshot taken at applied index `index` and, in the same batch,
   * delete the entries it covers.
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Promise<Snapshot>;
  /** The persisted hard state. */
  hardState(): HardState;
  /** Close the store and release its lock. */
  close(): Promise<void>;
}
