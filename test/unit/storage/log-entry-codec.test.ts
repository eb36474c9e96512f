/**
 * The log store's records: each round-trips, a cut-short record reads as torn, a damaged
 * one as corrupt, and a record under the wrong key as corrupt (its kind byte differs).
 */
import test from "ava";
import type { Entry } from "../../../raft/index.ts";
import {
  decodeEntry,
  decodeFormat,
  decodeHardState,
  decodeLastIndex,
  decodeSnapshotData,
  decodeSnapshotMeta,
  encodeEntry,
  encodeFormat,
  encodeHardState,
  encodeLastIndex,
  encodeSnapshotData,
  encodeSnapshotMeta,
  FORMAT_VERSION,
  snapshotDataMatches,
} from "../../../src/storage/log-entry-codec.ts";
import { decodeEntryKey, ENTRY_KEY_HI, ENTRY_KEY_LO, entryKey } from "../../../src/storage/log-keys.ts";
import { RecordError } from "../../../src/storage/record-frame.ts";

const entry: Entry = { index: 2 ** 40 + 3, term: 7, type: "conf", data: new Uint8Array([1, 2, 3]) };

test("every record round-trips", (t) => {
  const back = decodeEntry(encodeEntry(entry));
  t.deepEqual({ ...back, data: [...back.data] }, { ...entry, data: [1, 2, 3] });
  t.deepEqual(decodeHardState(encodeHardState({ term: 3, vote: "é-node", commit: 9 })), {
    term: 3,
    vote: "é-node",
    commit: 9,
  });
  const meta = { index: 12, term: 3, conf: { voters: ["a", "b"], learners: ["c"] } };
  const data = new Uint8Array([9, 8, 7, 6]);
  const stored = decodeSnapshotMeta(encodeSnapshotMeta(meta, data));
  t.deepEqual(stored.meta, meta);
  t.true(snapshotDataMatches(stored, decodeSnapshotData(encodeSnapshotData(data))));
  t.false(snapshotDataMatches(stored, new Uint8Array([9, 8, 7, 5])));
  t.is(decodeLastIndex(encodeLastIndex(2 ** 53 - 1)), 2 ** 53 - 1);
  t.is(decodeFormat(encodeFormat()), FORMAT_VERSION);
});

test("entry keys sort by index inside the entry range, and decode back", (t) => {
  const keys = [0, 1, 255, 256, 2 ** 32, 2 ** 53 - 1].map(entryKey);
  for (let i = 1; i < keys.length; i++) t.true(Buffer.compare(keys[i - 1]!, keys[i]!) < 0);
  for (const k of keys) t.true(Buffer.compare(ENTRY_KEY_LO, k) <= 0 && Buffer.compare(k, ENTRY_KEY_HI) < 0);
  t.is(decodeEntryKey(entryKey(2 ** 40)), 2 ** 40);
  t.is(decodeEntryKey(Buffer.from("h")), undefined);
  t.throws(() => entryKey(-1), { instanceOf: RangeError });
});

test("a short record is torn, a flipped byte or the wrong kind is corrupt", (t) => {
  const good = encodeEntry(entry);
  const torn = t.throws(() => decodeEntry(good.subarray(0, good.length - 1)), { instanceOf: RecordError });
  t.is(torn?.problem, "torn");
  t.is(t.throws(() => decodeEntry(good.subarray(0, 3)), { instanceOf: RecordError })?.problem, "torn");
  const flipped = Buffer.from(good);
  flipped[flipped.length - 1]! ^= 0x01;
  const corrupt = t.throws(() => decodeEntry(flipped), { instanceOf: RecordError });
  t.is(corrupt?.detail, "checksum mismatch");
  const wrongKind = t.throws(() => decodeHardState(good), { instanceOf: RecordError });
  t.is(wrongKind?.problem, "corrupt");
  t.regex(wrongKind!.detail, /not a hardState record/);
});
