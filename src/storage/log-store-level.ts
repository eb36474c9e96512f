/**
 * A {@link LogStore} on LevelDB (classic-level): the store itself. Its key layout is in
 * log-keys.ts, its records in log-entry-codec.ts, the planning of each write in
 * log-store-plan.ts, and opening (initialise, or verify everything) in log-store-load.ts.
 *
 * Every change is one LevelDB batch written with sync (fsync), so a crash leaves either the
 * whole Ready or none of it. Reads are synchronous, served from an in-memory mirror of the
 * live log (the same shape as MemoryStorage); the mirror changes only after the batch that
 * makes the change durable has resolved, so it never shows what the disk may not hold.
 */
import path from "node:path";
import { ClassicLevel } from "classic-level";
import {
  type ConfState,
  type Entry,
  type HardState,
  MemoryStorage,
  type Snapshot,
} from "../../raft/index.ts";
import { observeFsync, secondsBetween } from "../status/latency.ts";
import { LogStoreClosedError, LogStoreWriteError, openError } from "./data-dir-errors.ts";
import { ensureDataDir } from "./data-dir-mode.ts";
import type { BatchOp, LevelDb } from "./log-keys.ts";
import { type LoadedState, loadLogState } from "./log-store-load.ts";
import { type PersistPlan, planCompaction, planPersist } from "./log-store-plan.ts";
import type { LogStore, PersistBatch } from "./log-store.ts";

/** Options for {@link LevelLogStore.open}. */
export interface LevelLogStoreOptions {
  /** The data dir; created (with parents) mode 0700 if missing (data-dir-mode.ts). */
  readonly dir: string;
  /** Told when an existing data dir is open to its group or others (the agent logs it). */
  readonly warn?: ((message: string) => void) | undefined;
  /**
   * Founding configuration. Used only when the data dir holds no store yet: the store is
   * then initialised from `bootstrapState`. Without it a new store starts empty (a
   * node joining an existing cluster). An initialised store ignores it.
   */
  readonly bootstrap?: ConfState;
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
    private readonly db: LevelDb,
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
    const warning = await ensureDataDir(dir);
    if (warning !== null) options.warn?.(warning);
    const db: LevelDb = new ClassicLevel<Buffer, Buffer>(dir, {
      keyEncoding: "buffer",
      valueEncoding: "buffer",
    });
    try {
      await db.open({ createIfMissing: true, errorIfExists: false });
    } catch (err) {
      throw openError(dir, err);
    }
    try {
      const state = await loadLogState(db, dir, options.bootstrap);
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
      const plan = planPersist(this.mirror, batch);
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
      const ops = planCompaction(this.mirror, index, conf, data);
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
    if (this.closed) return Promise.reject(new LogStoreClosedError(this.dir));
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
   * {@link LogStoreWriteError}). A synced batch's duration, write and fsync together, is
   * `conclave_storage_fsync_duration_seconds`.
   */
  private async write(ops: BatchOp[], sync: boolean): Promise<void> {
    try {
      const start = performance.now();
      await this.db.batch(ops, { sync });
      if (sync) observeFsync(secondsBetween(start, performance.now()));
    } catch (err) {
      this.failure = new LogStoreWriteError(this.dir, { cause: err });
      throw this.failure;
    }
  }

  /** Makes the mirror match what `plan` wrote. Called only once the write has resolved. */
  private applyPlan(plan: PersistPlan): void {
    if (plan.snapshot) this.mirror.applySnapshot(plan.snapshot);
    this.mirror.append(plan.entries);
    if (plan.hardState) this.mirror.setHardState(plan.hardState);
  }
}
