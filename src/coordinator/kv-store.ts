/**
 * The replicated key-value configuration (`conclave kv`): app settings every server should
 * see. Part of the state machine: changed only by applying committed commands, so every
 * elector holds the same map at the same applied index.
 */

/** One stored value and the log index that last wrote it. */
export interface KvEntry {
  readonly value: string;
  /** The log index of the put that wrote this value (a per-key revision). */
  readonly revision: number;
}

/** The bytes one entry counts against the kv quota: its key and its value, UTF-8. */
function entryBytes(key: string, value: string): number {
  return Buffer.byteLength(key) + Buffer.byteLength(value);
}

/** The key-value section of the state machine. */
export class KvStore {
  private readonly map = new Map<string, KvEntry>();
  /** Invariant: the sum of {@link entryBytes} over the map (what the quota counts). */
  private total = 0;

  /** Bytes of keys and values stored, as the kv quota counts them. */
  get bytes(): number {
    return this.total;
  }

  /** The stored bytes after putting `value` at `key` (the quota check before a put). */
  bytesAfterPut(key: string, value: string): number {
    const old = this.map.get(key);
    return this.total - (old ? entryBytes(key, old.value) : 0) + entryBytes(key, value);
  }

  /** Set `key` to `value` at log index `index`. */
  put(key: string, value: string, index: number): number {
    this.total = this.bytesAfterPut(key, value);
    this.map.set(key, { value, revision: index });
    return index;
  }

  /** Remove `key`; returns whether it existed. */
  delete(key: string): boolean {
    const old = this.map.get(key);
    if (old) this.total -= entryBytes(key, old.value);
    return this.map.delete(key);
  }

  /** The entry for `key`, if any. */
  get(key: string): KvEntry | undefined {
    return this.map.get(key);
  }

  /** Every entry whose key starts with `prefix`, sorted by key. */
  list(prefix = ""): { key: string; value: string; revision: number }[] {
    const out: { key: string; value: string; revision: number }[] = [];
    for (const [key, e] of this.map) if (key.startsWith(prefix)) out.push({ key, ...e });
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  /** Plain data for a snapshot. */
  snapshot(): [string, KvEntry][] {
    return [...this.map.entries()];
  }

  /** Replace the contents from snapshot data. */
  restore(data: [string, KvEntry][]): void {
    this.map.clear();
    this.total = 0;
    for (const [k, e] of data) {
      this.map.set(k, e);
      this.total += entryBytes(k, e.value);
    }
  }
}
