/**
 * Planning the LevelDB log store's writes: each write request is checked against the live
 * log (the store's in-memory mirror) and turned into the operations of ONE atomic batch.
 * Planning has no side effects, so a refused request has written nothing and changed nothing.
 *
 * Every plan keeps the on-disk invariants that `open` verifies (log-store-load.ts): entry
 * keys are exactly snapshot.index + 1 .. lastIndex, terms never decrease, and the hard
 * state's commit is at most lastIndex. A request that would break one is refused here,
 * rather than producing a store that the next `open` refuses.
 */
import {
  type ConfState,
  type Entry,
  type HardState,
  RaftUsageError,
  type Snapshot,
  type SnapshotMeta,
  SnapshotOutOfDateError,
  type Storage,
  UnavailableError,
} from "../../raft/index.ts";
import {
  encodeEntry,
  encodeHardState,
  encodeLastIndex,
  encodeSnapshotData,
  encodeSnapshotMeta,
} from "./log-entry-codec.ts";
import { type BatchOp, entryKey, KEYS } from "./log-keys.ts";
import type { PersistBatch } from "./log-store.ts";

/** A validated persist batch: its LevelDB operations and what to apply to the mirror after. */
export interface PersistPlan {
  readonly ops: BatchOp[];
  readonly snapshot: Snapshot | undefined;
  /** The batch's entries minus those the (new) snapshot covers. */
  readonly entries: readonly Entry[];
  readonly hardState: HardState | undefined;
}

/** The two puts that store a snapshot: its metadata (fingerprinting the data) and the data. */
export function snapshotOps(meta: SnapshotMeta, data: Uint8Array): BatchOp[] {
  return [
    { type: "put", key: KEYS.snapshotMeta, value: encodeSnapshotMeta(meta, data) },
    { type: "put", key: KEYS.snapshotData, value: encodeSnapshotData(data) },
  ];
}

/**
 * Validates a persist batch against the live log `log` and turns it into LevelDB operations.
 * Semantics are MemoryStorage's applySnapshot + append + setHardState.
 * @throws SnapshotOutOfDateError for a snapshot not newer than the current one
 * @throws UnavailableError for entries starting beyond lastIndex + 1
 * @throws RaftUsageError for indices not consecutive, a term going down, or commit beyond the last index
 */
export function planPersist(log: Storage, batch: PersistBatch): PersistPlan {
  const ops: BatchOp[] = [];
  let offset = log.firstIndex() - 1;
  let last = log.lastIndex();
  let lastChanged = false;
  const snap = batch.snapshot;
  if (snap) {
    if (snap.meta.index <= log.snapshot().meta.index) throw new SnapshotOutOfDateError(snap.meta.index);
    // The snapshot replaces the whole log.
    for (let i = log.firstIndex(); i <= last; i++) ops.push({ type: "del", key: entryKey(i) });
    ops.push(...snapshotOps(snap.meta, snap.data));
    offset = snap.meta.index;
    last = offset;
    lastChanged = true;
  }

  let ents = batch.entries;
  // Entries the snapshot already covers are ignored, as MemoryStorage.append does.
  const head = ents[0];
  if (head && head.index <= offset) ents = ents.slice(offset + 1 - head.index);
  const first = ents[0];
  if (first) {
    if (first.index > last + 1) throw new UnavailableError(first.index);
    // After a new snapshot the entries can only start right after it; otherwise the log knows the term.
    let prevTerm = snap ? snap.meta.term : log.term(first.index - 1);
    for (let k = 0; k < ents.length; k++) {
      const e = ents[k]!;
      if (e.index !== first.index + k) {
        throw new RaftUsageError(
          `persist: entry ${e.index} follows entry ${first.index + k - 1}; indices must be consecutive`,
        );
      }
      if (e.term < prevTerm) {
        throw new RaftUsageError(
          `persist: entry ${e.index} has term ${e.term}, below the term ${prevTerm} before it`,
        );
      }
      prevTerm = e.term;
      ops.push({ type: "put", key: entryKey(e.index), value: encodeEntry(e) });
    }
    const newLast = first.index + ents.length - 1;
    // Overwriting from first.index: whatever lay beyond the new end is gone.
    for (let i = newLast + 1; i <= last; i++) ops.push({ type: "del", key: entryKey(i) });
    last = newLast;
    lastChanged = true;
  }
  if (lastChanged) ops.push({ type: "put", key: KEYS.lastIndex, value: encodeLastIndex(last) });

  const hs = batch.hardState;
  if (hs) {
    if (hs.commit > last) {
      throw new RaftUsageError(`persist: hard state commit ${hs.commit} is beyond the last index ${last}`);
    }
    ops.push({ type: "put", key: KEYS.hardState, value: encodeHardState(hs) });
  }
  return { ops, snapshot: snap, entries: ents, hardState: hs };
}

/**
 * The operations of compacting the log `log` into an application snapshot at `index`: store
 * the snapshot and delete the entries it covers. The last index is unchanged (a snapshot at
 * lastIndex leaves an empty log ending there), so its record is not rewritten.
 * @throws SnapshotOutOfDateError unless `index` is newer than the current snapshot
 * @throws UnavailableError when `index` is beyond lastIndex
 */
export function planCompaction(log: Storage, index: number, conf: ConfState, data: Uint8Array): BatchOp[] {
  if (index <= log.snapshot().meta.index) throw new SnapshotOutOfDateError(index);
  if (index > log.lastIndex()) throw new UnavailableError(index);
  const ops = snapshotOps({ index, term: log.term(index), conf }, data);
  for (let i = log.firstIndex(); i <= index; i++) ops.push({ type: "del", key: entryKey(i) });
  return ops;
}
