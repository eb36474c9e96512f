/**
 * A LogStore over raft's MemoryStorage, for tests of the driver without LevelDB. `persist`
 * resolves on a later turn of the event loop, like a real disk write, so proposals can pile
 * up behind it (group commit).
 */
import {
  type ConfState,
  type Entry,
  type HardState,
  MemoryStorage,
  type MemoryStorageOptions,
  type Snapshot,
} from "../../raft/index.ts";
import type { LogStore, PersistBatch } from "../../src/storage/log-store.ts";

/** In-memory LogStore. `writes` counts persist calls (one per Ready with something durable). */
export class MemoryLogStore implements LogStore {
  writes = 0;
  private readonly mem: MemoryStorage;

  constructor(options: MemoryStorageOptions = {}) {
    this.mem = new MemoryStorage(options);
  }

  async persist(batch: PersistBatch): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (batch.snapshot) this.mem.applySnapshot(batch.snapshot);
    this.mem.append(batch.entries);
    if (batch.hardState) this.mem.setHardState(batch.hardState);
    this.writes++;
  }

  async createSnapshot(index: number, conf: ConfState, data: Uint8Array): Promise<Snapshot> {
    return this.mem.createSnapshot(index, conf, data);
  }

  initialState(): { hardState: HardState; conf: ConfState } {
    return this.mem.initialState();
  }
  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    return this.mem.entries(lo, hi, maxBytes);
  }
  term(i: number): number {
    return this.mem.term(i);
  }
  lastIndex(): number {
    return this.mem.lastIndex();
  }
  firstIndex(): number {
    return this.mem.firstIndex();
  }
  snapshot(): Snapshot {
    return this.mem.snapshot();
  }
  hardState(): HardState {
    return this.mem.hardState();
  }
  async close(): Promise<void> {}
}
