/**
 * A {@link LogStore} on LevelDB (classic-level).
 *
 * Layout (all values are checksummed binary records, see log-entry-codec.ts):
 *
 *     'e' + u64 BE index   one key per live log entry, firstIndex..lastIndex
 *     'h'                  hard state
 *     'm'                  snapshot metadata (and a fingerprint of the snapshot data)
 *     's'                  snapshot data
 *     'l'                  last log index
 *     'v'                  format marker (present once the store is initialised)
 *
 * On-disk invariants, established by every write and verified in full by `open`:
 * - entry keys are exactly snapshot.index + 1 .. lastIndex, with no gap and nothing else;
 * - each entry's record encodes the index of its key, and terms never decrease;
 * - hard state commit <= lastIndex.
 *
 * Every change is one LevelDB batch written with sync (fsync), so a crash leaves either the
 * whole Ready or none of it. Reads are synchronous, served from an in-memory mirror of the
 * live log (the same shape as MemoryStorage); the mirror changes only after the batch that
 * makes the change durable has resolved, so it never shows what the disk may not hold.
 */
import { mkdir } from "node:fs/promises";
import path from "node:path";
import { ClassicLevel } from "classic-level";
import {
  bootstrapState,
  type ConfState,
  EMPTY_CONF,
  type Entry,
  type HardState,
  MemoryStorage,
  RaftUsageError,
  type Snapshot,
  SnapshotOutOfDateError,
  UnavailableError,
} from "../../raft/index.ts";
import {
  decodeEntry,
  decodeEntryKey,
  decodeFormat,
  decodeHardState,
  decodeLastIndex,
  decodeSnapshotData,
  decodeSnapshotMeta,
  ENTRY_KEY_HI,
  ENTRY_KEY_LO,
  encodeEntry,
  encodeFormat,
  encodeHardState,
  encodeLastIndex,
  encodeSnapshotData,
  encodeSnapshotMeta,
  entryKey,
  FORMAT_VERSION,
  KEYS,
  RecordError,
  snapshotDataMatches,
} from "./log-entry-codec.ts";
import type { LogStore, PersistBatch } from "./log-store.ts";

/** What was wrong with a data dir that {@link LevelLogStore.open} refused. */
export type DataDirProblem = "missing" | "corrupt" | "torn" | "unexpected" | "inconsistent" | "unsupported";

/**
 * The data dir failed verification at open. Nothing was deleted, truncated or rewritten:
 * the store refuses to start so that an operator can look at (or restore) the data, because
 * silently dropping a log suffix a node has acknowledged could break Raft's safety.
 */
export class DataDirCorruptError extends Error {
  override readonly name = "DataDirCorruptError";

  constructor(
    /** The data dir, as an absolute path. */
    readonly dir: string,
    /** What is affected, e.g. "log entry 1234" or "hard state". */
    readonly subject: string,
    /** The kind of problem. */
    readonly problem: DataDirProblem,
    /** Details for the operator. */
    readonly detail: string,
    /** The log index concerned, when the problem is with one entry. */
    readonly index?: number,
    options?: ErrorOptions,
  ) {
    super(
      `data dir ${dir}: ${subject} is ${problem} (${detail}); refusing to start, nothing was changed`,
      options,
    );
  }
}

/** Another process (or another store in this process) holds the data dir's LevelDB lock. */
export class DataDirLockedError extends Error {
  override readonly name = "DataDirLockedError";

  constructor(
    /** The data dir, as an absolute path. */
    readonly dir: string,
    options?: ErrorOptions,
  ) {
    super(`data dir ${dir} is locked by another process (is another conclave agent running?)`, options);
  }
}

/**
 * A write to the data dir failed. The store then refuses every further write: after a
 * failed fsync LevelDB cannot say what reached the disk, so the only safe continuation is
 * to stop and let the next `open` verify what is there. The in-memory mirror still shows
 * the state before the failed write.
 */
export class LogStoreWriteError extends Error {
  override readonly name = "LogStoreWriteError";

  constructor(
    /** The data dir, as an absolute path. */
    readonly dir: string,
    options?: ErrorOptions,
  ) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(`data dir ${dir}: a write failed${cause}; the log store accepts no more writes`, options);
  }
}

/** Options for {@link LevelLogStore.open}. */
export interface LevelLogStoreOptions {
  /** The data dir; created (with parents) if missing. */
  readonly dir: string;
  /**
   * Founding configuration. Used only when the data dir holds no store yet: the store is
   * then initialised from {@link bootstrapState}. Without it a new store starts empty (a
   * node joining an existing cluster). An initialised store ignores it.
   */
  readonly bootstrap?: ConfState;
}

type Db = ClassicLevel<Buffer, Buffer>;
type Op = { type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer };

/** What open read back, or what a new store starts from. */
interface LoadedState {
  readonly hardState: HardState;
  readonly snapshot: Snapshot;
  /** Live entries, snapshot.meta.index + 1 .. lastIndex. */
  readonly entries: Entry[];
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Maps a failure while opening or verifying to the store's named errors. classic-level
 * reports a failed open as LEVEL_DATABASE_NOT_OPEN whose `cause` says why: LEVEL_LOCKED
 * (message "IO error: lock .../LOCK: ...") or LEVEL_CORRUPTION (LevelDB's own checksums).
 */
function openError(dir: string, err: unknown): unknown {
  if (err instanceof DataDirCorruptError) return err;
  const cause = (err as Error | null)?.cause as Error | undefined;
  if (
    errorCode(err) === "LEVEL_LOCKED" ||
    errorCode(cause) === "LEVEL_LOCKED" ||
    /\block\b/i.test(cause?.message ?? "")
  ) {
    return new DataDirLockedError(dir, { cause: err });
  }
  for (const e of [err, cause]) {
    if (errorCode(e) === "LEVEL_CORRUPTION") {
      return new DataDirCorruptError(
        dir,
        "the LevelDB database",
        "corrupt",
        (e as Error).message,
        undefined,
        {
          cause: err,
        },
      );
    }
  }
  return err;
}

/** A durable Raft log in a LevelDB data dir. Create with {@link LevelLogStore.open}. */
export class LevelLogStore implements LogStore {
  /**
   * The live log in memory, serving Raft's synchronous reads. Invariant: it equals what is
   * on disk; it is changed only after the batch that wrote the same change has resolved.
   */
  private readonly mirror = new MemoryStorage();
  /** Writes run one at a time, in call order: each is planned against the state the previous one left. */
  private queue: Promise<unknown> = Promise.resolve();
  private failure: LogStoreWriteError | undefined;
  private closed = false;

  private constructor(
    private readonly db: Db,
    /** The data dir, as an absolute path. */
    readonly dir: string,
    state: LoadedState,
  ) {
    if (state.snapshot.meta.index > 0) this.mirror.applySnapshot(state.snapshot);
    this.mirror.append(state.entries);
    this.mirror.setHardState(state.hardState);
  }

  /**
   * Open (creating if needed) the store in `options.dir`, verify all of it, and load the live
   * log into memory.
   * @throws DataDirLockedError when another process (or store) has the dir open.
   * @throws DataDirCorruptError when verification fails; nothing on disk is changed.
   */
  static async open(options: LevelLogStoreOptions): Promise<LevelLogStore> {
    const dir = path.resolve(options.dir);
    await mkdir(dir, { recursive: true });
    const db: Db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
    try {
      await db.open({ createIfMissing: true, errorIfExists: false });
    } catch (err) {
      throw openError(dir, err);
    }
    try {
      const state = await load(db, dir, options.bootstrap);
      return new LevelLogStore(db, dir, state);
    } catch (err) {
      // Release the lock; the error is what the caller needs, not a failure to close.
      await db.close().catch(() => {});
      throw openError(dir, err);
    }
  }

  // ---- Storage: synchronous reads, served by the mirror ----

  /** @inheritdoc */
  initialState(): { hardState: HardState; conf: ConfState } {
    return this.mirror.initialState();
  }

  /** @inheritdoc */
  hardState(): HardState {
    return this.mirror.hardState();
  }

  /** @inheritdoc */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.mirror.entries(lo, hi, maxBytes);
  }

  /** @inheritdoc */
  term(i: number): number {
    return this.mirror.term(i);
  }

  /** @inheritdoc */
  lastIndex(): number {
    return this.mirror.lastIndex();
  }

  /** @inheritdoc */
  firstIndex(): number {
    return this.mirror.firstIndex();
  }

  /** @inheritdoc */
  snapshot(): Snapshot {
    return this.mirror.snapshot();
  }

  // ---- Writes ----

  /**
   * @inheritdoc
   *
   * Semantics match MemoryStorage's applySnapshot + append + setHardState: a snapshot must be
   * newer than the current one (else SnapshotOutOfDateError); entries already covered by the
   * snapshot are skipped; entries must start at most at lastIndex + 1 (else UnavailableError).
   * A batch that would break an on-disk invariant (indices not consecutive, a term going down,
   * commit beyond the last index) is refused with RaftUsageError before anything is written,
   * rather than producing a store that the next `open` refuses.
   */
  persist(batch: PersistBatch): Promise<void> {
    return this.serialize(async () => {
      const plan = this.planPersist(batch);
      if (plan.ops.length === 0) return;
      await this.write(plan.ops, batch.sync ?? true);
      this.applyPlan(plan);
    });
  }

  /**
   * @inheritdoc
   *
   * `index` must be newer than the current snapshot (else SnapshotOutOfDateError) and at most
   * lastIndex (else UnavailableError). The store keeps a reference to `data`: do not mutate it.
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Promise<Snapshot> {
    return this.serialize(async () => {
      if (index <= this.snapshot().meta.index) throw new SnapshotOutOfDateError(index);
      if (index > this.lastIndex()) throw new UnavailableError(index);
      const snap: Snapshot = { meta: { index, term: this.term(index), conf }, data };
      const ops: Op[] = [
        { type: "put", key: KEYS.snapshotMeta, value: encodeSnapshotMeta(snap.meta, data) },
        { type: "put", key: KEYS.snapshotData, value: encodeSnapshotData(data) },
      ];
      for (let i = this.firstIndex(); i <= index; i++) ops.push({ type: "del", key: entryKey(i) });
      // lastIndex is unchanged (a snapshot at lastIndex leaves an empty log ending there).
      await this.write(ops, true);
      return this.mirror.createSnapshot(index, conf, data);
    });
  }

  /** @inheritdoc Lets writes already requested finish, then closes the database; later writes reject. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    await this.db.close();
  }

  /**
   * Runs `fn` after every earlier write has settled, so each write is validated against the
   * state its predecessors left. After a failed write, later ones reject with that failure.
   */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`data dir ${this.dir}: the log store is closed`));
    const run = this.queue.then(() => {
      if (this.failure) throw this.failure;
      return fn();
    });
    this.queue = run.catch(() => {});
    return run;
  }

  /**
   * One atomic batch, fsynced unless `sync` is false (LevelDB's log is sequential, so a later
   * synced batch also makes every earlier one durable). A failure poisons the store (see
   * {@link LogStoreWriteError}).
   */
  private async write(ops: Op[], sync: boolean): Promise<void> {
    try {
      await this.db.batch(ops, { sync });
    } catch (err) {
      this.failure = new LogStoreWriteError(this.dir, { cause: err });
      throw this.failure;
    }
  }

  /** Validates a batch against the mirror and turns it into LevelDB operations. No side effects. */
  private planPersist(batch: PersistBatch): PersistPlan {
    const ops: Op[] = [];
    let offset = this.firstIndex() - 1;
    let last = this.lastIndex();
    let lastChanged = false;
    const snap = batch.snapshot;
    if (snap) {
      if (snap.meta.index <= this.snapshot().meta.index) throw new SnapshotOutOfDateError(snap.meta.index);
      // The snapshot replaces the whole log.
      for (let i = this.firstIndex(); i <= last; i++) ops.push({ type: "del", key: entryKey(i) });
      ops.push({ type: "put", key: KEYS.snapshotMeta, value: encodeSnapshotMeta(snap.meta, snap.data) });
      ops.push({ type: "put", key: KEYS.snapshotData, value: encodeSnapshotData(snap.data) });
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
      // After a new snapshot the entries can only start right after it; otherwise the mirror knows the term.
      let prevTerm = snap ? snap.meta.term : this.term(first.index - 1);
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

  /** Makes the mirror match what `plan` wrote. Called only once the write has resolved. */
  private applyPlan(plan: PersistPlan): void {
    if (plan.snapshot) this.mirror.applySnapshot(plan.snapshot);
    this.mirror.append(plan.entries);
    if (plan.hardState) this.mirror.setHardState(plan.hardState);
  }
}

/** A validated persist batch: its LevelDB operations and what to apply to the mirror after. */
interface PersistPlan {
  readonly ops: Op[];
  readonly snapshot: Snapshot | undefined;
  /** The batch's entries minus those the (new) snapshot covers. */
  readonly entries: readonly Entry[];
  readonly hardState: HardState | undefined;
}

// ---- Open: initialise or verify ----

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
 * Reads and verifies the whole store, or initialises a brand-new one. Read-only unless the
 * database holds no key at all.
 */
async function load(db: Db, dir: string, bootstrap: ConfState | undefined): Promise<LoadedState> {
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
 * Writes the starting state of a new store in one synced batch: a founder's bootstrap state,
 * or an empty joiner. Either way the format marker is written, so a later open with a
 * different `bootstrap` cannot turn a joiner into a founder (or vice versa).
 */
async function initialise(db: Db, bootstrap: ConfState | undefined): Promise<LoadedState> {
  const { snapshot, hardState } = bootstrap
    ? bootstrapState(bootstrap)
    : {
        snapshot: { meta: { index: 0, term: 0, conf: EMPTY_CONF }, data: new Uint8Array() },
        hardState: { term: 0, vote: "", commit: 0 },
      };
  const ops: Op[] = [
    { type: "put", key: KEYS.hardState, value: encodeHardState(hardState) },
    { type: "put", key: KEYS.snapshotMeta, value: encodeSnapshotMeta(snapshot.meta, snapshot.data) },
    { type: "put", key: KEYS.snapshotData, value: encodeSnapshotData(snapshot.data) },
    { type: "put", key: KEYS.lastIndex, value: encodeLastIndex(snapshot.meta.index) },
    // The marker last in the batch; the batch is atomic anyway, but this reads as the commit point.
    { type: "put", key: KEYS.format, value: encodeFormat() },
  ];
  await db.batch(ops, { sync: true });
  return { hardState, snapshot, entries: [] };
}
