/**
 * Binary records of the LevelDB log store (see {@link LevelLogStore} in log-store-level.ts).
 *
 * Every value is a checksummed frame:
 *
 *     crc32 (u32 BE, over everything after it) | kind (u8) | payload
 *
 * The kind byte names what the record is, so a value stored under the wrong key (an entry
 * under the hard-state key, say) fails to decode instead of being misread. Entries also
 * carry their own index, which the store compares with the index in their key.
 *
 * Integers are unsigned big-endian; 64-bit fields hold JavaScript safe integers only
 * (written as two u32 halves, so no BigInt on the hot path). Strings are UTF-8 with a u16
 * byte length.
 */
import { crc32 } from "node:zlib";
import type { ConfState, Entry, EntryType, HardState, SnapshotMeta } from "../../raft/index.ts";

/** Why a stored record could not be decoded: cut short ("torn") or damaged ("corrupt"). */
export class RecordError extends Error {
  override readonly name = "RecordError";
  constructor(
    /** "torn": shorter than its own header says; "corrupt": checksum or structure wrong. */
    readonly problem: "torn" | "corrupt",
    /** What exactly was wrong, for the operator (no trailing period). */
    readonly detail: string,
  ) {
    super(`record is ${problem} (${detail})`);
  }
}

/** Record kinds: the byte after the checksum. Printable, so a hex dump is readable. */
const KIND = {
  entry: 0x45, // 'E'
  hardState: 0x48, // 'H'
  snapshotMeta: 0x4d, // 'M'
  snapshotData: 0x53, // 'S'
  lastIndex: 0x4c, // 'L'
  format: 0x56, // 'V'
} as const;

type Kind = keyof typeof KIND;

/** Bytes before the payload: crc32 (4) and kind (1). */
const FRAME_HEADER = 5;
/** An entry's fixed header after the frame header: type (1), term (8), index (8), data length (4). */
const ENTRY_HEADER = 21;

/** The on-disk format version written in the format record. Bump on any incompatible change. */
export const FORMAT_VERSION = 1;

// ---------------------------------------------------------------------------------------
// Keys. Entry keys sort by index because the index is big-endian and fixed width, so a
// range iteration over the entry prefix visits the log in order.

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

const TWO_32 = 0x1_0000_0000;

function writeU64(buf: Buffer, n: number, at: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a non-negative safe integer: ${n}`);
  buf.writeUInt32BE(Math.floor(n / TWO_32), at);
  buf.writeUInt32BE(n >>> 0, at + 4);
}

/** Reads a u64 written by writeU64; returns -1 when it exceeds the safe-integer range. */
function readU64(buf: Buffer, at: number): number {
  const hi = buf.readUInt32BE(at);
  if (hi >= 0x20_0000) return -1; // >= 2^53
  return hi * TWO_32 + buf.readUInt32BE(at + 4);
}

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

// ---------------------------------------------------------------------------------------
// Framing.

function frame(kind: Kind, payloadLength: number): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER + payloadLength);
  buf[4] = KIND[kind];
  return buf;
}

/** Fills in the checksum once the payload is written. */
function seal(buf: Buffer): Buffer {
  buf.writeUInt32BE(crc32(buf.subarray(4)), 0);
  return buf;
}

/**
 * A bounds-checked reader over a payload. Running past the end means the record is
 * shorter than its own fields say: "torn".
 */
class Reader {
  private at: number;
  constructor(
    private readonly buf: Buffer,
    start: number,
  ) {
    this.at = start;
  }

  private need(n: number, what: string): void {
    if (this.at + n > this.buf.length) {
      throw new RecordError(
        "torn",
        `record is ${this.buf.length} bytes, too short for its ${what} at byte ${this.at}`,
      );
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.at++]!;
  }

  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }

  u64(what: string): number {
    this.need(8, what);
    const v = readU64(this.buf, this.at);
    if (v < 0) throw new RecordError("corrupt", `${what} exceeds 2^53`);
    this.at += 8;
    return v;
  }

  /** A copy, so the decoded value does not pin the (possibly pooled) buffer it came from. */
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const out = new Uint8Array(this.buf.subarray(this.at, this.at + n));
    this.at += n;
    return out;
  }

  str(what: string): string {
    const n = this.u16(`${what} length`);
    this.need(n, what);
    const s = this.buf.toString("utf8", this.at, this.at + n);
    this.at += n;
    return s;
  }

  end(): void {
    if (this.at !== this.buf.length) {
      throw new RecordError("corrupt", `${this.buf.length - this.at} unexpected bytes after the record`);
    }
  }
}

/**
 * Checks a frame and decodes its payload with `parse`.
 *
 * A short record also fails its checksum; to tell the operator "torn" rather than
 * "corrupt" in that case, a checksum mismatch is reported as torn when parsing shows the
 * record is shorter than its header says, and as a checksum mismatch otherwise.
 */
function unframe<T>(value: Uint8Array, kind: Kind, parse: (r: Reader) => T): T {
  const buf = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (buf.length < FRAME_HEADER) {
    throw new RecordError(
      "torn",
      `record is ${buf.length} bytes, shorter than the ${FRAME_HEADER}-byte frame`,
    );
  }
  const sumOk = buf.readUInt32BE(0) === crc32(buf.subarray(4));
  if (!sumOk) {
    try {
      const r = new Reader(buf, FRAME_HEADER);
      parse(r);
    } catch (err) {
      if (err instanceof RecordError && err.problem === "torn") throw err;
    }
    throw new RecordError("corrupt", "checksum mismatch");
  }
  if (buf[4] !== KIND[kind]) {
    throw new RecordError(
      "corrupt",
      `holds a record of kind 0x${buf[4]!.toString(16)}, not a ${kind} record`,
    );
  }
  const r = new Reader(buf, FRAME_HEADER);
  const out = parse(r);
  r.end();
  return out;
}

// ---------------------------------------------------------------------------------------
// Entries.

const ENTRY_TYPES: readonly EntryType[] = ["normal", "conf"];

/** Encodes an entry: type, term, index and data, all under the checksum. */
export function encodeEntry(e: Entry): Buffer {
  const type = ENTRY_TYPES.indexOf(e.type);
  if (type < 0) throw new RangeError(`unknown entry type: ${String(e.type)}`);
  const buf = frame("entry", ENTRY_HEADER + e.data.length);
  let at = FRAME_HEADER;
  buf[at++] = type;
  writeU64(buf, e.term, at);
  writeU64(buf, e.index, at + 8);
  buf.writeUInt32BE(e.data.length, at + 16);
  at += 20;
  buf.set(e.data, at);
  return seal(buf);
}

/** Decodes an entry. @throws RecordError when the record is torn or corrupt. */
export function decodeEntry(value: Uint8Array): Entry {
  return unframe(value, "entry", (r) => {
    const typeCode = r.u8("entry type");
    const term = r.u64("term");
    const index = r.u64("index");
    const data = r.bytes(r.u32("data length"), "data");
    const type = ENTRY_TYPES[typeCode];
    if (type === undefined) throw new RecordError("corrupt", `unknown entry type ${typeCode}`);
    return { term, index, type, data };
  });
}

// ---------------------------------------------------------------------------------------
// Hard state.

/** Encodes the hard state. */
export function encodeHardState(hs: HardState): Buffer {
  const voteLen = Buffer.byteLength(hs.vote, "utf8");
  if (voteLen > 0xffff) throw new RangeError("vote id too long");
  const buf = frame("hardState", 8 + 8 + 2 + voteLen);
  writeU64(buf, hs.term, FRAME_HEADER);
  writeU64(buf, hs.commit, FRAME_HEADER + 8);
  buf.writeUInt16BE(voteLen, FRAME_HEADER + 16);
  buf.write(hs.vote, FRAME_HEADER + 18, "utf8");
  return seal(buf);
}

/** Decodes the hard state. @throws RecordError */
export function decodeHardState(value: Uint8Array): HardState {
  return unframe(value, "hardState", (r) => {
    const term = r.u64("term");
    const commit = r.u64("commit");
    const vote = r.str("vote");
    return { term, vote, commit };
  });
}

// ---------------------------------------------------------------------------------------
// Snapshot metadata and data. The metadata records the data's length and CRC, so data
// left from another snapshot (a mix-up the per-record checksums cannot see) is detected.

/** Snapshot metadata as stored: the Raft metadata plus a fingerprint of the data record. */
export interface StoredSnapshotMeta {
  readonly meta: SnapshotMeta;
  readonly dataLength: number;
  readonly dataCrc: number;
}

function nodeIdsLength(ids: readonly string[]): number {
  let n = 2;
  for (const id of ids) {
    const len = Buffer.byteLength(id, "utf8");
    if (len > 0xffff) throw new RangeError("node id too long");
    n += 2 + len;
  }
  return n;
}

function writeNodeIds(buf: Buffer, ids: readonly string[], at: number): number {
  if (ids.length > 0xffff) throw new RangeError("too many node ids");
  buf.writeUInt16BE(ids.length, at);
  at += 2;
  for (const id of ids) {
    const len = buf.write(id, at + 2, "utf8");
    buf.writeUInt16BE(len, at);
    at += 2 + len;
  }
  return at;
}

function readNodeIds(r: Reader, what: string): string[] {
  const n = r.u16(`${what} count`);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(r.str(what));
  return out;
}

/** Encodes snapshot metadata, fingerprinting `data` (stored separately under its own key). */
export function encodeSnapshotMeta(meta: SnapshotMeta, data: Uint8Array): Buffer {
  const conf = meta.conf;
  const buf = frame(
    "snapshotMeta",
    8 + 8 + 4 + 4 + nodeIdsLength(conf.voters) + nodeIdsLength(conf.learners),
  );
  writeU64(buf, meta.index, FRAME_HEADER);
  writeU64(buf, meta.term, FRAME_HEADER + 8);
  buf.writeUInt32BE(data.length, FRAME_HEADER + 16);
  buf.writeUInt32BE(crc32(data), FRAME_HEADER + 20);
  const at = writeNodeIds(buf, conf.voters, FRAME_HEADER + 24);
  writeNodeIds(buf, conf.learners, at);
  return seal(buf);
}

/** Decodes snapshot metadata. @throws RecordError */
export function decodeSnapshotMeta(value: Uint8Array): StoredSnapshotMeta {
  return unframe(value, "snapshotMeta", (r) => {
    const index = r.u64("index");
    const term = r.u64("term");
    const dataLength = r.u32("data length");
    const dataCrc = r.u32("data checksum");
    const voters = readNodeIds(r, "voter");
    const learners = readNodeIds(r, "learner");
    return { meta: { index, term, conf: { voters, learners } satisfies ConfState }, dataLength, dataCrc };
  });
}

/** Encodes snapshot data (the application's state-machine bytes). */
export function encodeSnapshotData(data: Uint8Array): Buffer {
  const buf = frame("snapshotData", data.length);
  buf.set(data, FRAME_HEADER);
  return seal(buf);
}

/** Decodes snapshot data. @throws RecordError */
export function decodeSnapshotData(value: Uint8Array): Uint8Array {
  return unframe(value, "snapshotData", (r) => r.bytes(value.length - FRAME_HEADER, "data"));
}

/** Whether `data` is exactly what `stored` fingerprints. */
export function snapshotDataMatches(stored: StoredSnapshotMeta, data: Uint8Array): boolean {
  return data.length === stored.dataLength && crc32(data) === stored.dataCrc;
}

// ---------------------------------------------------------------------------------------
// Last index and format marker.

/** Encodes the last log index. */
export function encodeLastIndex(index: number): Buffer {
  const buf = frame("lastIndex", 8);
  writeU64(buf, index, FRAME_HEADER);
  return seal(buf);
}

/** Decodes the last log index. @throws RecordError */
export function decodeLastIndex(value: Uint8Array): number {
  return unframe(value, "lastIndex", (r) => r.u64("last index"));
}

/** Encodes the format marker with {@link FORMAT_VERSION}. */
export function encodeFormat(): Buffer {
  const buf = frame("format", 4);
  buf.writeUInt32BE(FORMAT_VERSION, FRAME_HEADER);
  return seal(buf);
}

/** Decodes the format marker, returning the version. @throws RecordError */
export function decodeFormat(value: Uint8Array): number {
  return unframe(value, "format", (r) => r.u32("format version"));
}
