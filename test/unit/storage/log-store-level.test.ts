/**
 * LevelLogStore: where a new store starts, durability round trips, writes it refuses
 * without writing anything, the poisoning after a failed write, and the data dir lock.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";
import test from "ava";
import type { ClassicLevel } from "classic-level";
import {
  CompactedError,
  type ConfState,
  MemoryStorage,
  RaftUsageError,
  type Snapshot,
  SnapshotOutOfDateError,
  UnavailableError,
} from "../../../raft/index.ts";
import { DataDirLockedError, LogStoreWriteError } from "../../../src/storage/data-dir-errors.ts";
import { entryKey, KEYS } from "../../../src/storage/log-keys.ts";
import { LevelLogStore } from "../../../src/storage/log-store-level.ts";
import { CONF, ent, observe, plain, plainSnap, range, rawDump, seeded, tmpDir } from "./store-fixtures.ts";

// ---- Start states ----

test("a founding store starts from bootstrapState, durably", async (t) => {
  const dir = tmpDir(t);
  const s = await LevelLogStore.open({ dir, bootstrap: CONF });
  const want = {
    first: 2,
    last: 1,
    terms: [1],
    entries: [],
    snapshot: { meta: { index: 1, term: 1, conf: CONF }, data: "" },
    hardState: { term: 1, vote: "", commit: 1 },
    initialState: { hardState: { term: 1, vote: "", commit: 1 }, conf: CONF },
  };
  t.deepEqual(observe(s), want);
  t.deepEqual(observe(s), observe(new MemoryStorage({ conf: CONF })));
  await s.close();
  const again = await LevelLogStore.open({ dir });
  t.deepEqual(observe(again), want);
  await again.close();
});

test("a joining store starts empty, and stays a joiner when reopened with a bootstrap", async (t) => {
  const dir = path.join(tmpDir(t), "not", "yet", "there");
  const s = await LevelLogStore.open({ dir });
  t.deepEqual(observe(s), observe(new MemoryStorage()));
  t.is(s.snapshot().meta.index, 0);
  t.deepEqual(s.initialState().conf, { voters: [], learners: [] });
  await s.close();
  const again = await LevelLogStore.open({ dir, bootstrap: CONF });
  t.deepEqual(observe(again), observe(new MemoryStorage()));
  await again.close();
});

test("an initialised founder ignores a different bootstrap", async (t) => {
  const dir = await seeded(t);
  const s = await LevelLogStore.open({ dir, bootstrap: { voters: ["x"], learners: [] } });
  t.deepEqual(s.snapshot().meta.conf, CONF);
  t.is(s.lastIndex(), 5);
  await s.close();
});

// ---- Round trips ----

test("entries, hard state and a received snapshot survive a reopen", async (t) => {
  const dir = tmpDir(t);
  const s = await LevelLogStore.open({ dir, bootstrap: CONF });
  await s.persist({ entries: range(2, 4, 1), hardState: { term: 1, vote: "a", commit: 3 } });
  await s.persist({ entries: [ent(5, 2, "x".repeat(1000))], hardState: { term: 2, vote: "b", commit: 5 } });
  const before = observe(s);
  t.is(before.last, 5);
  await s.close();
  const s2 = await LevelLogStore.open({ dir });
  t.deepEqual(observe(s2), before);

  // A snapshot from the leader replaces the whole log, with entries after it in the same batch.
  const snap: Snapshot = {
    meta: { index: 10, term: 3, conf: { voters: ["a", "b"], learners: ["c"] } },
    data: new Uint8Array([1, 2, 3]),
  };
  await s2.persist({
    snapshot: snap,
    entries: [ent(10, 3), ent(11, 3), ent(12, 4)],
    hardState: { term: 4, vote: "", commit: 11 },
  });
  t.is(s2.firstIndex(), 11);
  t.is(s2.lastIndex(), 12);
  t.is(s2.term(10), 3);
  const after = observe(s2);
  await s2.close();
  const s3 = await LevelLogStore.open({ dir });
  t.deepEqual(observe(s3), after);
  await s3.close();
  const keys = [...(await rawDump(dir)).keys()].filter((k) => k.startsWith("65"));
  t.deepEqual(keys, [entryKey(11).toString("hex"), entryKey(12).toString("hex")], "old entry keys are gone");
});

test("entries overwrite an existing suffix, on disk too", async (t) => {
  const dir = await seeded(t);
  const s = await LevelLogStore.open({ dir });
  await s.persist({ entries: [ent(3, 2, "new 3"), ent(4, 2, "new 4")] });
  t.is(s.lastIndex(), 4);
  t.deepEqual(
    s.entries(2, 5, 1e9).map(plain),
    [ent(2, 1), ent(3, 2, "new 3"), ent(4, 2, "new 4")].map(plain),
  );
  t.throws(() => s.term(5), { instanceOf: UnavailableError });
  await s.close();
  const s2 = await LevelLogStore.open({ dir });
  t.is(s2.lastIndex(), 4);
  t.is(s2.term(3), 2);
  await s2.close();
  t.false((await rawDump(dir)).has(entryKey(5).toString("hex")));
});

test("createSnapshot compacts the log and survives a reopen", async (t) => {
  const dir = await seeded(t);
  const s = await LevelLogStore.open({ dir });
  const conf: ConfState = { voters: ["a", "b", "c"], learners: ["d"] };
  const snap = await s.createSnapshot(4, conf, new Uint8Array([9, 8, 7]));
  t.deepEqual(snap.meta, { index: 4, term: 1, conf });
  t.is(s.firstIndex(), 5);
  t.is(s.term(4), 1);
  t.throws(() => s.term(3), { instanceOf: CompactedError });
  t.throws(() => s.entries(4, 6, 1e9), { instanceOf: CompactedError });
  await t.throwsAsync(s.createSnapshot(4, conf, new Uint8Array()), { instanceOf: SnapshotOutOfDateError });
  await t.throwsAsync(s.createSnapshot(6, conf, new Uint8Array()), { instanceOf: UnavailableError });
  const before = observe(s);
  await s.close();
  const s2 = await LevelLogStore.open({ dir });
  t.deepEqual(observe(s2), before);
  t.deepEqual(plainSnap(s2.snapshot()), plainSnap(snap));
  // Snapshot at the last index: the log is empty and ends at the snapshot.
  await s2.createSnapshot(5, conf, new Uint8Array([1]));
  t.is(s2.lastIndex(), 5);
  t.is(s2.firstIndex(), 6);
  await s2.close();
  const entryKeys = [...(await rawDump(dir)).keys()].filter((k) => k.startsWith("65"));
  t.deepEqual(entryKeys, []);
  const s3 = await LevelLogStore.open({ dir });
  t.is(s3.lastIndex(), 5);
  await s3.persist({ entries: [ent(6, 2)] });
  t.is(s3.lastIndex(), 6);
  await s3.close();
});

test("entries(lo, hi, maxBytes) returns at least one entry and stops past maxBytes", async (t) => {
  const dir = await seeded(t);
  const s = await LevelLogStore.open({ dir });
  const mem = new MemoryStorage({ conf: CONF });
  mem.append(range(2, 5, 1));
  for (const max of [0, 1, 25, 50, 75, 1e9]) {
    t.deepEqual(s.entries(2, 6, max).map(plain), mem.entries(2, 6, max).map(plain), `maxBytes ${max}`);
  }
  t.is(s.entries(2, 6, 0).length, 1);
  t.throws(() => s.entries(1, 3, 1e9), { instanceOf: CompactedError });
  t.throws(() => s.entries(2, 7, 1e9), { instanceOf: UnavailableError });
  t.throws(() => s.term(0), { instanceOf: CompactedError });
  await s.close();
});

// ---- Writes that are refused ----

test("an invalid batch is refused before anything is written", async (t) => {
  const dir = await seeded(t);
  const s = await LevelLogStore.open({ dir });
  const before = observe(s);
  await s.close();
  const disk = await rawDump(dir);
  const s2 = await LevelLogStore.open({ dir });
  await t.throwsAsync(s2.persist({ entries: [ent(7, 1)] }), { instanceOf: UnavailableError });
  await t.throwsAsync(s2.persist({ entries: [ent(6, 1), ent(8, 1)] }), { instanceOf: RaftUsageError });
  await t.throwsAsync(s2.persist({ entries: [ent(6, 0)] }), { instanceOf: RaftUsageError });
  await t.throwsAsync(s2.persist({ entries: [], hardState: { term: 1, vote: "", commit: 6 } }), {
    instanceOf: RaftUsageError,
  });
  await t.throwsAsync(
    s2.persist({
      entries: [],
      snapshot: { meta: { index: 1, term: 1, conf: CONF }, data: new Uint8Array() },
    }),
    {
      instanceOf: SnapshotOutOfDateError,
    },
  );
  t.deepEqual(observe(s2), before);
  // Refusals do not poison the store, and wrote nothing.
  await s2.persist({ entries: [ent(6, 1)] });
  t.is(s2.lastIndex(), 6);
  await s2.close();
  const after = await rawDump(dir);
  t.deepEqual(
    [...after.keys()].filter((k) => !disk.has(k)),
    [entryKey(6).toString("hex")],
  );
  for (const [k, v] of disk) {
    if (k !== KEYS.lastIndex.toString("hex")) t.is(after.get(k), v, `key ${k} unchanged`);
  }
});

test("entries covered by the snapshot are ignored", async (t) => {
  const dir = await seeded(t);
  const s = await LevelLogStore.open({ dir });
  await s.createSnapshot(3, CONF, new Uint8Array());
  await s.persist({ entries: [ent(2, 1), ent(3, 1), ent(4, 1, "again"), ent(5, 1)] });
  t.is(s.firstIndex(), 4);
  t.deepEqual(plain(s.entries(4, 5, 1e9)[0]!), plain(ent(4, 1, "again")));
  await s.close();
  const s2 = await LevelLogStore.open({ dir });
  t.deepEqual(plain(s2.entries(4, 5, 1e9)[0]!), plain(ent(4, 1, "again")));
  await s2.close();
});

test("writes issued without waiting run in order", async (t) => {
  const dir = tmpDir(t);
  const s = await LevelLogStore.open({ dir, bootstrap: CONF });
  const writes = [
    s.persist({ entries: range(2, 6, 1) }),
    s.persist({ entries: range(5, 8, 2), hardState: { term: 2, vote: "a", commit: 6 } }),
    s.createSnapshot(6, CONF, new Uint8Array([6])),
    s.persist({ entries: [ent(9, 2)] }),
  ];
  await Promise.all(writes);
  t.is(s.firstIndex(), 7);
  t.is(s.lastIndex(), 9);
  t.is(s.term(5 + 2), 2);
  const before = observe(s);
  await s.close();
  const s2 = await LevelLogStore.open({ dir });
  t.deepEqual(observe(s2), before);
  await s2.close();
});

test("a failed write leaves the mirror as it was and refuses later writes", async (t) => {
  const dir = await seeded(t);
  const s = await LevelLogStore.open({ dir });
  const before = observe(s);
  // Pull the database out from under the store, so the next batch fails.
  const db = Reflect.get(s, "db") as ClassicLevel<Buffer, Buffer>;
  await db.close();
  const err = await t.throwsAsync(
    s.persist({ entries: [ent(6, 1)], hardState: { term: 1, vote: "a", commit: 5 } }),
    {
      instanceOf: LogStoreWriteError,
    },
  );
  t.true(err!.message.includes(path.resolve(dir)));
  t.deepEqual(observe(s), before);
  await t.throwsAsync(s.persist({ entries: [ent(6, 1)] }), { instanceOf: LogStoreWriteError });
  await t.throwsAsync(s.createSnapshot(3, CONF, new Uint8Array()), { instanceOf: LogStoreWriteError });
  await s.close();
  const s2 = await LevelLogStore.open({ dir });
  t.deepEqual(observe(s2), before);
  await s2.close();
});

// ---- Locking ----

test("a second open in the same process is refused as locked", async (t) => {
  const dir = tmpDir(t);
  const s = await LevelLogStore.open({ dir, bootstrap: CONF });
  const err = await t.throwsAsync(LevelLogStore.open({ dir }), { instanceOf: DataDirLockedError });
  t.is(
    err!.message,
    `data dir ${path.resolve(dir)} is locked by another process (is another conclave agent running?)`,
  );
  await s.close();
  const s2 = await LevelLogStore.open({ dir });
  await s2.close();
  t.pass();
});

test("a data dir held by another process is refused as locked", async (t) => {
  const dir = tmpDir(t);
  await (await LevelLogStore.open({ dir, bootstrap: CONF })).close();
  const script = `
    import { ClassicLevel } from "classic-level";
    const db = new ClassicLevel(${JSON.stringify(dir)});
    await db.open();
    process.stdout.write("open\\n");
    process.stdin.resume();
    process.stdin.on("end", async () => { await db.close(); process.exit(0); });
  `;
  const child: ChildProcess = spawn(process.execPath, ["--input-type=module", "-e", script], {
    cwd: process.cwd(),
    stdio: ["pipe", "pipe", "inherit"],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill();
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once("data", () => resolve());
    child.once("exit", (code) => reject(new Error(`child exited early with ${code}`)));
  });
  await t.throwsAsync(LevelLogStore.open({ dir }), { instanceOf: DataDirLockedError });
  child.stdin!.end();
  await new Promise((resolve) => child.once("exit", resolve));
  const s = await LevelLogStore.open({ dir });
  t.is(s.lastIndex(), 1);
  await s.close();
});
