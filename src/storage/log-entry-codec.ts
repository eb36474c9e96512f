/**
 * The records of the LevelDB log store, one codec per key (the layout is in log-keys.ts,
 * the checksummed frame around each in record-frame.ts): log entries, the hard state,
 * snapshot metadata and data, the last index and the format marker.
 *
 * Entries carry their own index, which the store compares with the index in their key;
 * snapshot metadata carries a fingerprint of the snapshot data, which is stored apart.
 */
import { crc32 } from "node:zlib";
import type { ConfState, Entry, EntryType, HardState, SnapshotMeta } from "../../raft/index.ts";
import {
  allocRecord,
  FRAME_HEADER,
  readRecord,
  RecordError,
  type RecordReader,
  sealRecord,
  writeU64,
} from "./record-frame.ts";

/** The on-disk format version written in the format record. Bump on any incompatible change. */
export const FORMAT_VERSION = 1;

/** An entry's fixed header after the frame header: type (1), term (8), index (8), data length (4). */
const ENTRY_HEADER = 21;

// ---------------------------------------------------------------------------------------
// Entries.

const ENTRY_TYPES: readonly EntryType[] = ["normal", "conf"];

/** Encodes an entry: type, term, index and data, all under the checksum. */
export function encodeEntry(e: Entry): Buffer {
  const type = ENTRY_TYPES.indexOf(e.type);
  if (type < 0) throw new RangeError(`unknown entry type: ${String(e.type)}`);
  const buf = allocRecord("entry", ENTRY_HEADER + e.data.length);
  let at = FRAME_HEADER;
  buf[at++] = type;
  writeU64(buf, e.term, at);
  writeU64(buf, e.index, at + 8);
  buf.writeUInt32BE(e.data.length, at + 16);
  at += 20;
  buf.set(e.data, at);
  return sealRecord(buf);
}

/** Decodes an entry. @throws RecordError when the record is torn or corrupt. */
export function decodeEntry(value: Uint8Array): Entry {
  return readRecord(value, "entry", (r) => {
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
  const buf = allocRecord("hardState", 8 + 8 + 2 + voteLen);
  writeU64(buf, hs.term, FRAME_HEADER);
  writeU64(buf, hs.commit, FRAME_HEADER + 8);
  buf.writeUInt16BE(voteLen, FRAME_HEADER + 16);
  buf.write(hs.vote, FRAME_HEADER + 18, "utf8");
  return sealRecord(buf);
}

/** Decodes the hard state. @throws RecordError */
export function decodeHardState(value: Uint8Array): HardState {
  return readRecord(value, "hardState", (r) => {
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

function readNodeIds(r: RecordReader, what: string): string[] {
  const n = r.u16(`${what} count`);
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push(r.str(what));
  return out;
}

/** Encodes snapshot metadata, fingerprinting `data` (stored separately under its own key). */
export function encodeSnapshotMeta(meta: SnapshotMeta, data: Uint8Array): Buffer {
  const conf = meta.conf;
  const buf = allocRecord(
    "snapshotMeta",
    8 + 8 + 4 + 4 + nodeIdsLength(conf.voters) + nodeIdsLength(conf.learners),
  );
  writeU64(buf, meta.index, FRAME_HEADER);
  writeU64(buf, meta.term, FRAME_HEADER + 8);
  buf.writeUInt32BE(data.length, FRAME_HEADER + 16);
  buf.writeUInt32BE(crc32(data), FRAME_HEADER + 20);
  const at = writeNodeIds(buf, conf.voters, FRAME_HEADER + 24);
  writeNodeIds(buf, conf.learners, at);
  return sealRecord(buf);
}

/** Decodes snapshot metadata. @throws RecordError */
export function decodeSnapshotMeta(value: Uint8Array): StoredSnapshotMeta {
  return readRecord(value, "snapshotMeta", (r) => {
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
  const buf = allocRecord("snapshotData", data.length);
  buf.set(data, FRAME_HEADER);
  return sealRecord(buf);
}

/** Decodes snapshot data. @throws RecordError */
export function decodeSnapshotData(value: Uint8Array): Uint8Array {
  return readRecord(value, "snapshotData", (r) => r.bytes(value.length - FRAME_HEADER, "data"));
}

/** Whether `data` is exactly what `stored` fingerprints. */
export function snapshotDataMatches(stored: StoredSnapshotMeta, data: Uint8Array): boolean {
  return data.length === stored.dataLength && crc32(data) === stored.dataCrc;
}

// ---------------------------------------------------------------------------------------
// Last index and format marker.

/** Encodes the last log index. */
export function encodeLastIndex(index: number): Buffer {
  const buf = allocRecord("lastIndex", 8);
  writeU64(buf, index, FRAME_HEADER);
  return sealRecord(buf);
}

/** Decodes the last log index. @throws RecordError */
export function decodeLastIndex(value: Uint8Array): number {
  return readRecord(value, "lastIndex", (r) => r.u64("last index"));
}

/** Encodes the format marker with {@link FORMAT_VERSION}. */
export function encodeFormat(): Buffer {
  const buf = allocRecord("format", 4);
  buf.writeUInt32BE(FORMAT_VERSION, FRAME_HEADER);
  return sealRecord(buf);
}

/** Decodes the format marker, returning the version. @throws RecordError */
export function decodeFormat(value: Uint8Array): number {
  return readRecord(value, "format", (r) => r.u32("format version"));
}
