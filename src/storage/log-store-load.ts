/**
 * Opening a LevelDB log store: initialise a brand-new database, or read ALL of an existing
 * one and verify it before anything is served from it. The corruption checks live here.
 *
 * Verified on every open (each write keeps these, see log-store-plan.ts):
 * - the format marker is present and of this build's version;
 * - every record decodes (checksum, kind, length) under the key it belongs to;
 * - the snapshot data is the data the snapshot metadata fingerprints;
 * - entry keys are exactly snapshot.index + 1 .. lastIndex, with no gap and nothing else;
 * - each entry's record encodes the index of its key, and terms never decrease;
 * - hard state commit <= lastIndex.
 *
 * A failure is a {@link DataDirCorruptError} naming the record; nothing is ever repaired,
 * because dropping a log suffix this node has acknowledged could break Raft's safety.
 */
import {
  bootstrapState,
  type ConfState,
  EMPTY_CONF,
  type Entry,
  type HardState,
  type Snapshot,
} from "../../raft/index.ts";
import { DataDirCorruptError } from "./data-dir-errors.ts";
import {
  decodeEntry,
  decodeFormat,
  decodeHardState,
  decodeLastIndex,
  decodeSnapshotData,
  decodeSnapshotMeta,
  encodeFormat,
  encodeHardState,
  encodeLastIndex,
  FORMAT_VERSION,
  snapshotDataMatches,
} from "./log-entry-codec.ts";
import { type BatchOp, decodeEntryKey, ENTRY_KEY_HI, ENTRY_KEY_LO, KEYS, type LevelDb } from "./log-keys.ts";
import { snapshotOps } from "./log-store-plan.ts";
import { RecordError } from "./record-frame.ts";

/** What open read back, or what a new store starts from. */
export interface LoadedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  /** Live entries, snapshot.meta.index + 1 .. lastIndex. */
  readonly entries: Entry[];
}

/** Wraps a record decode so its failure names the data dir and the record. */
function decodeOr<T>(dir: string, subject: string, index: number | undefined, decode: () => T): T {
  try {
    return decode();
  } catch (err) {
    if (err instanceof RecordError)
      throw new DataDirCorruptError(dir, subject, err.problem, err.detail, index);
    throw err;
  }
}

/**
 * Reads and verifies the whole store in `db` (the data dir `dir`), or initialises a
 * brand-new one from `bootstrap` (a founder) or empty (a joiner). Read-only unless the
 * database holds no key at all.
 * @throws DataDirCorruptError naming the first record that fails verification
 */
export async function loadLogState(
  db: LevelDb,
  dir: string,
  bootstrap: ConfState | undefined,
): Promise<LoadedState> {
  const [format, hardRec, metaRec, dataRec, lastRec] = await db.getMany([
    KEYS.format,
    KEYS.hardState,
    KEYS.snapshotMeta,
    KEYS.snapshotData,
    KEYS.lastIndex,
  ]);

  if (format === undefined) {
    // Only a database with no key at all is new; anything else without the marker is not ours
    // (or lost its marker), and initialising over it could mix two histories.
    for await (const key of db.keys({ limit: 1 })) {
      throw new DataDirCorruptError(
        dir,
        "the format marker",
        "missing",
        `the database holds keys (the first is 0x${key.toString("hex")}) but no format marker`,
      );
    }
    return initialise(db, bootstrap);
  }

  const version = decodeOr(dir, "the format marker", undefined, () => decodeFormat(format));
  if (version !== FORMAT_VERSION) {
    throw new DataDirCorruptError(
      dir,
      "the store format",
      "unsupported",
      `format version ${version}, this build reads version ${FORMAT_VERSION}`,
    );
  }
  const present = (rec: Buffer | undefined, subject: string): Buffer => {
    if (rec === undefined) throw new DataDirCorruptError(dir, subject, "missing", "its key is absent");
    return rec;
  };
  const hardState = decodeOr(dir, "the hard state", undefined, () =>
    decodeHardState(present(hardRec, "the hard state")),
  );
  const stored = decodeOr(dir, "the snapshot metadata", undefined, () =>
    decodeSnapshotMeta(present(metaRec, "the snapshot metadata")),
  );
  const data = decodeOr(dir, "the snapshot data", undefined, () =>
    decodeSnapshotData(present(dataRec, "the snapshot data")),
  );
  if (!snapshotDataMatches(stored, data)) {
    throw new DataDirCorruptError(
      dir,
      "the snapshot data",
      "inconsistent",
      `${data.length} bytes that do not match the snapshot metadata (${stored.dataLength} bytes, at index ${stored.meta.index})`,
    );
  }
  const snapshot: Snapshot = { meta: stored.meta, data };
  const last = decodeOr(dir, "the last-index record", undefined, () =>
    decodeLastIndex(present(lastRec, "the last-index record")),
  );
  const snapIndex = snapshot.meta.index;
  if (last < snapIndex) {
    throw new DataDirCorruptError(
      dir,
      "the last-index record",
      "inconsistent",
      `last index ${last} is below the snapshot index ${snapIndex}`,
    );
  }

  const entries = await loadEntries(db, dir, snapshot, last);
  if (hardState.commit > last) {
    throw new DataDirCorruptError(
      dir,
      "the hard state",
      "inconsistent",
      `commit ${hardState.commit} is beyond the last log index ${last}`,
    );
  }
  return { hardState, snapshot, entries };
}

/**
 * Reads every entry key in order and checks that they are exactly snapshot.index + 1 ..
 * `last`, each record holding its key's index, with terms that never decrease.
 * @throws DataDirCorruptError naming the first entry at fault
 */
async function loadEntries(db: LevelDb, dir: string, snapshot: Snapshot, last: number): Promise<Entry[]> {
  const snapIndex = snapshot.meta.index;
  const entries: Entry[] = [];
  let expected = snapIndex + 1;
  let prevTerm = snapshot.meta.term;
  for await (const [key, value] of db.iterator({ gte: ENTRY_KEY_LO, lt: ENTRY_KEY_HI })) {
    const idx = decodeEntryKey(key);
    if (idx === undefined) {
      throw new DataDirCorruptError(
        dir,
        `log key 0x${key.toString("hex")}`,
        "corrupt",
        "not a well-formed entry key",
      );
    }
    // Keys come in ascending order, so idx >= expected unless the snapshot covers it.
    if (idx <= snapIndex) {
      throw new DataDirCorruptError(
        dir,
        `log entry ${idx}`,
        "unexpected",
        `the snapshot at index ${snapIndex} covers it, so it should have been deleted`,
        idx,
      );
    }
    if (idx > expected && expected <= last) {
      throw new DataDirCorruptError(
        dir,
        `log entry ${expected}`,
        "missing",
        `the log should hold every entry from ${snapIndex + 1} to ${last}; the next present is ${idx}`,
        expected,
      );
    }
    if (idx > last) {
      throw new DataDirCorruptError(
        dir,
        `log entry ${idx}`,
        "unexpected",
        `it lies beyond the recorded last index ${last}`,
        idx,
      );
    }
    const e = decodeOr(dir, `log entry ${idx}`, idx, () => decodeEntry(value));
    if (e.index !== idx) {
      throw new DataDirCorruptError(
        dir,
        `log entry ${idx}`,
        "corrupt",
        `its key says index ${idx} but its record says index ${e.index}`,
        idx,
      );
    }
    if (e.term < prevTerm) {
      throw new DataDirCorruptError(
        dir,
        `log entry ${idx}`,
        "inconsistent",
        `term ${e.term} is below the term ${prevTerm} before it`,
        idx,
      );
    }
    prevTerm = e.term;
    entries.push(e);
    expected++;
  }
  if (expected <= last) {
    throw new DataDirCorruptError(
      dir,
      `log entry ${expected}`,
      "missing",
      `the log should hold every entry from ${snapIndex + 1} to ${last}`,
      expected,
    );
  }
  return entries;
}

/**
 * Writes the starting state of a new store in one synced batch: a founder's bootstrap state,
 * or an empty joiner. Either way the format marker is written, so a later open with a
 * different `bootstrap` cannot turn a joiner into a founder (or vice versa).
 */
async function initialise(db: LevelDb, bootstrap: ConfState | undefined): Promise<LoadedState> {
  const { snapshot, hardState } = bootstrap
    ? bootstrapState(bootstrap)
    : {
        snapshot: { meta: { index: 0, term: 0, conf: EMPTY_CONF }, data: new Uint8Array() },
        hardState: { term: 0, vote: "", commit: 0 },
      };
  const ops: BatchOp[] = [
    { type: "put", key: KEYS.hardState, value: encodeHardState(hardState) },
    ...snapshotOps(snapshot.meta, snapshot.data),
    { type: "put", key: KEYS.lastIndex, value: encodeLastIndex(snapshot.meta.index) },
    // The marker last in the batch; the batch is atomic anyway, but this reads as the commit point.
    { type: "put", key: KEYS.format, value: encodeFormat() },
  ];
  await db.batch(ops, { sync: true });
  return { hardState, snapshot, entries: [] };
}
