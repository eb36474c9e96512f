/**
 * Opening a damaged data dir: the store refuses to start, names the record at fault and
 * the kind of damage, and changes nothing on disk.
 */
import path from "node:path";
import test from "ava";
import { DataDirCorruptError } from "../../../src/storage/data-dir-errors.ts";
import { encodeEntry, encodeHardState } from "../../../src/storage/log-entry-codec.ts";
import { entryKey, KEYS } from "../../../src/storage/log-keys.ts";
import { LevelLogStore } from "../../../src/storage/log-store-level.ts";
import { CONF, ent, openFails, rawDump, rawOpen, seeded } from "./store-fixtures.ts";

// ---- Refusing to start ----

test("a flipped byte in one entry: open names the entry and changes nothing", async (t) => {
  const dir = await seeded(t);
  const db = await rawOpen(dir);
  const good = (await db.get(entryKey(3)))!;
  const bad = Buffer.from(good);
  bad[bad.length - 2]! ^= 0x01; // inside the data
  await db.put(entryKey(3), bad);
  await db.close();
  const disk = await rawDump(dir);

  const err = await openFails(t, dir);
  t.is(err.index, 3);
  t.is(err.problem, "corrupt");
  t.is(
    err.message,
    `data dir ${path.resolve(dir)}: log entry 3 is corrupt (checksum mismatch); refusing to start, nothing was changed`,
  );
  t.false(err.message.includes("\n"));
  // Nothing was deleted or repaired, and the lock was released (rawDump could open it).
  t.deepEqual(await rawDump(dir), disk);
  const again = await openFails(t, dir);
  t.is(again.message, err.message);
});

test("a missing middle entry key is reported as missing", async (t) => {
  const dir = await seeded(t);
  const db = await rawOpen(dir);
  await db.del(entryKey(4));
  await db.close();
  const err = await openFails(t, dir);
  t.is(err.index, 4);
  t.is(err.problem, "missing");
  t.regex(err.message, /: log entry 4 is missing \(.*\); refusing to start, nothing was changed$/);
});

test("a lost tail is reported as missing (the last-index record remembers it)", async (t) => {
  const dir = await seeded(t);
  const db = await rawOpen(dir);
  await db.del(entryKey(5));
  await db.close();
  const err = await openFails(t, dir);
  t.is(err.index, 5);
  t.is(err.problem, "missing");
});

test("a short (torn) entry record is reported as torn", async (t) => {
  const dir = await seeded(t);
  const db = await rawOpen(dir);
  const good = (await db.get(entryKey(2)))!;
  await db.put(entryKey(2), good.subarray(0, good.length - 3));
  await db.close();
  const err = await openFails(t, dir);
  t.is(err.index, 2);
  t.is(err.problem, "torn");
  t.regex(err.message, /: log entry 2 is torn \(/);
});

test("an entry record under another entry's key is detected", async (t) => {
  const dir = await seeded(t);
  const db = await rawOpen(dir);
  await db.put(entryKey(3), (await db.get(entryKey(4)))!);
  await db.close();
  const err = await openFails(t, dir);
  t.is(err.index, 3);
  t.regex(err.message, /log entry 3 is corrupt \(its key says index 3 but its record says index 4\)/);
});

test("a record of another kind under an entry key is detected", async (t) => {
  const dir = await seeded(t);
  const db = await rawOpen(dir);
  await db.put(entryKey(3), encodeHardState({ term: 1, vote: "", commit: 1 }));
  await db.close();
  const err = await openFails(t, dir);
  t.is(err.index, 3);
  t.is(err.problem, "corrupt");
});

test("a hard state commit beyond the last index is refused", async (t) => {
  const dir = await seeded(t);
  const db = await rawOpen(dir);
  await db.put(KEYS.hardState, encodeHardState({ term: 1, vote: "a", commit: 9 }));
  await db.close();
  const err = await openFails(t, dir);
  t.regex(err.message, /the hard state is inconsistent \(commit 9 is beyond the last log index 5\)/);
});

test("a stray entry below the snapshot or a term going down is refused", async (t) => {
  const dir = await seeded(t);
  let db = await rawOpen(dir);
  await db.put(entryKey(1), encodeEntry(ent(1, 1)));
  await db.close();
  let err = await openFails(t, dir);
  t.is(err.index, 1);
  t.is(err.problem, "unexpected");

  db = await rawOpen(dir);
  await db.del(entryKey(1));
  await db.put(entryKey(5), encodeEntry(ent(5, 0)));
  await db.close();
  err = await openFails(t, dir);
  t.is(err.index, 5);
  t.is(err.problem, "inconsistent");
});

test("a database with keys but no format marker is not initialised over", async (t) => {
  const dir = await seeded(t);
  const db = await rawOpen(dir);
  await db.del(KEYS.format);
  await db.close();
  const disk = await rawDump(dir);
  const err = await t.throwsAsync(LevelLogStore.open({ dir, bootstrap: CONF }), {
    instanceOf: DataDirCorruptError,
  });
  t.regex(err!.message, /the format marker is missing/);
  t.deepEqual(await rawDump(dir), disk);
});
