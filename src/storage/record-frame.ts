/**
 * The checksummed frame around every value of the LevelDB log store, and the bounds-checked
 * reader the record codecs (log-entry-codec.ts) parse payloads with.
 *
 *     crc32 (u32 BE, over everything after it) | kind (u8) | payload
 *
 * The kind byte names what the record is, so a value stored under the wrong key (an entry
 * under the hard-state key, say) fails to decode instead of being misread.
 *
 * Integers are unsigned big-endian; 64-bit fields hold JavaScript safe integers only
 * (written as two u32 halves, so no BigInt on the hot path). Strings are UTF-8 with a u16
 * byte length.
 */
import { crc32 } from "node:zlib";

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

/** What a record holds; each kind has its own kind byte. */
export type RecordKind = keyof typeof KIND;

/** Bytes before the payload: crc32 (4) and kind (1). */
export const FRAME_HEADER = 5;

const TWO_32 = 0x1_0000_0000;

/**
 * Write `n` as a u64 BE at `at`.
 * @throws RangeError unless `n` is a non-negative safe integer
 */
export function writeU64(buf: Buffer, n: number, at: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a non-negative safe integer: ${n}`);
  buf.writeUInt32BE(Math.floor(n / TWO_32), at);
  buf.writeUInt32BE(n >>> 0, at + 4);
}

/** Reads a u64 written by {@link writeU64}; returns -1 when it exceeds the safe-integer range. */
export function readU64(buf: Buffer, at: number): number {
  const hi = buf.readUInt32BE(at);
  if (hi >= 0x20_0000) return -1; // >= 2^53
  return hi * TWO_32 + buf.readUInt32BE(at + 4);
}

/** A new record of `kind` with room for `payloadLength` bytes at {@link FRAME_HEADER}; seal it once written. */
export function allocRecord(kind: RecordKind, payloadLength: number): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_HEADER + payloadLength);
  buf[4] = KIND[kind];
  return buf;
}

/** Fills in the checksum once the payload is written; returns `buf`. */
export function sealRecord(buf: Buffer): Buffer {
  buf.writeUInt32BE(crc32(buf.subarray(4)), 0);
  return buf;
}

/**
 * A bounds-checked reader over a payload. Running past the end means the record is
 * shorter than its own fields say: "torn".
 */
export class RecordReader {
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

  /** One byte. */
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.at++]!;
  }

  /** A u16 BE. */
  u16(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16BE(this.at);
    this.at += 2;
    return v;
  }

  /** A u32 BE. */
  u32(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }

  /** A u64 BE; beyond 2^53 is corrupt (this store never writes such a value). */
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

  /** A UTF-8 string with a u16 byte length. */
  str(what: string): string {
    const n = this.u16(`${what} length`);
    this.need(n, what);
    const s = this.buf.toString("utf8", this.at, this.at + n);
    this.at += n;
    return s;
  }

  /** Asserts that the whole payload was read: trailing bytes are corruption. */
  end(): void {
    if (this.at !== this.buf.length) {
      throw new RecordError("corrupt", `${this.buf.length - this.at} unexpected bytes after the record`);
    }
  }
}

/**
 * Checks a record's frame and decodes its payload with `parse`.
 *
 * A short record also fails its checksum; to tell the operator "torn" rather than
 * "corrupt" in that case, a checksum mismatch is reported as torn when parsing shows the
 * record is shorter than its header says, and as a checksum mismatch otherwise.
 * @throws RecordError when the record is torn, corrupt or of another kind
 */
export function readRecord<T>(value: Uint8Array, kind: RecordKind, parse: (r: RecordReader) => T): T {
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
      const r = new RecordReader(buf, FRAME_HEADER);
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
  const r = new RecordReader(buf, FRAME_HEADER);
  const out = parse(r);
  r.end();
  return out;
}
