/**
 * An in-memory {@link Storage}: for tests, the simulation, and the in-memory benchmark.
 * It also models "what survived a crash" in the simulation: only what the application
 * wrote here through a Ready is kept across a simulated restart.
 */
import { CompactedError, SnapshotOutOfDateError, UnavailableError } from "./errors.ts";
import { bootstrapState, type Storage } from "./storage.ts";
import { type ConfState, EMPTY_CONF, type Entry, entrySize, type HardState, type Snapshot } from "./types.ts";

/** Options for {@link MemoryStorage}. */
export interface MemoryStorageOptions {
  /**
   * Founding configuration. When given, storage starts from {@link bootstrapState}; when
   * absent, it starts empty (a node joining an existing cluster, which the leader sends a snapshot).
   */
  conf?: ConfState;
}

/** In-memory storage. Invariant: `ents[0]` is a dummy entry holding the snapshot's index and term. */
export class MemoryStorage implements Storage {
  private hard: HardState = { term: 0, vote: "", commit: 0 };
  private snap: Snapshot;
  private ents: Entry[];

  constructor(options: MemoryStorageOptions = {}) {
    if (options.conf) {
      const boot = bootstrapState(options.conf);
      this.snap = boot.snapshot;
      this.hard = boot.hardState;
    } else {
      this.snap = { meta: { index: 0, term: 0, conf: EMPTY_CONF }, data: new Uint8Array() };
    }
    this.ents = [
      { term: this.snap.meta.term, index: this.snap.meta.index, type: "normal", data: new Uint8Array() },
    ];
  }

  /** @inheritdoc */
  initialState(): { hardState: HardState; conf: ConfState } {
    return { hardState: this.hard, conf: this.snap.meta.conf };
  }

  /** Persist the hard state. */
  setHardState(hs: HardState): void {
    this.hard = hs;
  }

  /** The persisted hard state. */
  hardState(): HardState {
    return this.hard;
  }

  private get offset(): number {
    return this.ents[0]!.index;
  }

  /** @inheritdoc */
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo <= this.offset) throw new CompactedError(lo);
    if (hi > this.lastIndex() + 1) throw new UnavailableError(hi - 1);
    const out: Entry[] = [];
    let size = 0;
    for (let i = lo; i < hi; i++) {
      const e = this.ents[i - this.offset]!;
      size += entrySize(e);
      if (out.length > 0 && size > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  /** @inheritdoc */
  term(i: number): number {
    if (i < this.offset) throw new CompactedError(i);
    if (i > this.lastIndex()) throw new UnavailableError(i);
    return this.ents[i - this.offset]!.term;
  }

  /** @inheritdoc */
  lastIndex(): number {
    return this.offset + this.ents.length - 1;
  }

  /** @inheritdoc */
  firstIndex(): number {
    return this.offset + 1;
  }

  /** @inheritdoc */
  snapshot(): Snapshot {
    return this.snap;
  }

  /** Replace everything with a snapshot received from the leader. */
  applySnapshot(snap: Snapshot): void {
    if (snap.meta.index <= this.snap.meta.index) throw new SnapshotOutOfDateError(snap.meta.index);
    this.snap = snap;
    this.ents = [{ term: snap.meta.term, index: snap.meta.index, type: "normal", data: new Uint8Array() }];
  }

  /**
   * Record a snapshot of the application state at applied index `index` and drop the entries
   * it covers. `index` must be at most the last index.
   */
  createSnapshot(index: number, conf: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.snap.meta.index) throw new SnapshotOutOfDateError(index);
    if (index > this.lastIndex()) throw new UnavailableError(index);
    this.snap = { meta: { index, term: this.term(index), conf }, data };
    this.compact(index);
    return this.snap;
  }

  /** Discard entries before and including `index`, keeping it as the dummy entry. */
  private compact(index: number): void {
    const i = index - this.offset;
    const head = this.ents[i]!;
    this.ents = [
      { term: head.term, index: head.index, type: "normal", data: new Uint8Array() },
      ...this.ents.slice(i + 1),
    ];
  }

  /**
   * Append entries, replacing any existing suffix that they overlap (a follower's conflict
   * resolution). Entries already covered by the snapshot are ignored.
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = this.firstIndex();
    let ents = entries;
    if (ents[0]!.index < first) ents = ents.slice(first - ents[0]!.index);
    if (ents.length === 0) return;
    const at = ents[0]!.index - this.offset;
    if (at > this.ents.length) throw new UnavailableError(ents[0]!.index);
    this.ents.length = at;
    for (const e of ents) this.ents.push(e);
  }
}
