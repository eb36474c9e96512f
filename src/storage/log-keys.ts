/**
 * The key layout of the LevelDB log store, and the types of its database and batch
 * operations. Every value under these keys is a checksummed record (log-entry-codec.ts).
 *
 *     'e' + u64 BE index   one key per live log entry, firstIndex..lastIndex
 *     'h'                  hard state
 *     'm'                  snapshot metadata (and a fingerprint of the snapshot data)
 *     's'                  snapshot data
 *     'l'                  last log index
 *     'v'                  format marker (present once the store is initialised)
 *
 * Entry keys sort by index because the index is big-endian and fixed width, so a range
 * iteration over the entry prefix visits the log in order. No other key lies in that range.
 */
import type { ClassicLevel } from "classic-level";
import { readU64, writeU64 } from "./record-frame.ts";

/** The store's database: binary keys and values. */
export type LevelDb = ClassicLevel<Buffer, Buffer>;

/** One operation of an atomic LevelDB batch. */
export type BatchOp = { type: "put"; key: Buffer; value: Buffer } | { type: "del"; key: Buffer };

/** Key prefix of log entries ('e'); the entry range is [ENTRY_KEY_LO, ENTRY_KEY_HI). */
const ENTRY_PREFIX = 0x65;

/** Lower bound (inclusive) of the entry key range. */
export const ENTRY_KEY_LO: Buffer = Buffer.from([ENTRY_PREFIX]);
/** Upper bound (exclusive) of the entry key range: the next prefix byte ('f'). */
export const ENTRY_KEY_HI: Buffer = Buffer.from([ENTRY_PREFIX + 1]);

/** Single-byte keys of the store's other records. None lies in the entry key range. */
export const KEYS = {
  /** Format marker: present in every initialised store, absent only in a brand-new one. */
  format: Buffer.from("v"),
  hardState: Buffer.from("h"),
  snapshotMeta: Buffer.from("m"),
  snapshotData: Buffer.from("s"),
  /** The last log index; lets open detect a lost tail, which entry keys alone cannot show. */
  lastIndex: Buffer.from("l"),
} as const;

/** The key of log entry `index`: prefix 'e' then the index as u64 BE. */
export function entryKey(index: number): Buffer {
  const key = Buffer.allocUnsafe(9);
  key[0] = ENTRY_PREFIX;
  writeU64(key, index, 1);
  return key;
}

/** The index in an entry key, or undefined when the key is not a well-formed entry key. */
export function decodeEntryKey(key: Uint8Array): number | undefined {
  if (key.length !== 9 || key[0] !== ENTRY_PREFIX) return undefined;
  const idx = readU64(Buffer.from(key.buffer, key.byteOffset, key.byteLength), 1);
  return idx < 0 ? undefined : idx;
}
