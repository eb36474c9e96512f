/**
 * LevelLogStore: durability round trips, the semantics MemoryStorage defines (checked by a
 * model-based property test), and refusal to start on a damaged or locked data dir without
 * changing anything on disk.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import test, { type ExecutionContext } from "ava";
import { ClassicLevel } from "classic-level";
import fc from "fast-check";
import {
  CompactedError,
  type ConfState,
  type Entry,
  type HardState,
  MemoryStorage,
  RaftUsageError,
  type Snapshot,
  SnapshotOutOfDateError,
  UnavailableError,
} from "../../../raft/index.ts";
import { encodeEntry, encodeHardState, entryKey, KEYS } from "../../../src/storage/log-entry-codec.ts";
import {
  DataDirCorruptError,
  DataDirLockedError,
  LevelLogStore,
  LogStoreWriteError,
} from "../../../src/storage/log-store-level.ts";

const CONF: ConfState = { voters: ["a", "b", "c"], learners: [] };

function tmpDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "conclave-logstore-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function ent(index: number, term: number, text = `entry ${index}`): Entry {
  return { index, term, type: index % 3 === 0 ? "conf" : "normal", data: new TextEncoder().encode(text) };
}

function range(lo: number, hi: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(ent(i, term));
  return out;
}

/** Comparable form of an entry (data as hex, whatever its Uint8Array subclass). */
function plain(e: Entry) {
  return { index: e.index, term: e.term, type: e.type, data: Buffer.from(e.data).toString("hex") };
}

function plainSnap(s: Snapshot) {
  return { meta: s.meta, data: Buffer.from(s.data).toString("hex") };
}

type Reads = Pick<
  LevelLogStore,
  "firstIndex" | "lastIndex" | "entries" | "term" | "snapshot" | "hardState" | "initialState"
>;

/** Everything a reader can observe, in comparable form. */
function observe(s: Reads) {
  const first = s.firstIndex();
  const last = s.lastIndex();
  const terms: number[] = [];
  for (let i = first - 1; i <= last; i++) terms.push(s.term(i));
  return {
    first,
    last,
    terms,
    entries: last >= first ? s.entries(first, last + 1, Number.POSITIVE_INFINITY).map(plain) : [],
    snapshot: plainSnap(s.snapshot()),
    hardState: s.hardState(),
    initialState: s.initialState(),
  };
}

async function rawOpen(dir: string): Promise<ClassicLevel<Buffer, Buffer>> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
  await db.open({ createIfMissing: false });
  return db;
}

async function rawDump(dir: string): Promise<Map<string, string>> {
  const db = await rawOpen(dir);
  const out = new Map<string, string>();
  for await (const [k, v] of db.iterator()) out.set(k.toString("hex"), v.toString("hex"));
  await db.close();
  return out;
}

/** A founder with entries 2..5 (term 1) and commit 4, closed. */
async function seeded(t: ExecutionContext): Promise<string> {
  const dir = tmpDir(t);
  const s = await LevelLogStore.open({ dir, bootstrap: CONF });
  await s.persist({ entries: range(2, 5, 1), hardState: { term: 1, vote: "a", commit: 4 } });
  await s.close();
  return dir;
}

async function openFails(t: ExecutionContext, dir: string): Promise<DataDirCorruptError> {
  const err = await t.throwsAsync(LevelLogStore.open({ dir }), { instanceOf: DataDirCorruptError });
  return err!;
}

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

// ---- Model-based: the same batches give the same state as MemoryStorage ----

const batchArb = fc.record(
  {
    snapshot: fc.record({ ahead: fc.integer({ min: 1, max: 6 }), termBump: fc.nat(2), size: fc.nat(40) }),
    entries: fc.record({
      back: fc.nat(6),
      count: fc.integer({ min: 0, max: 5 }),
      termBump: fc.nat(2),
      size: fc.nat(120),
      conf: fc.boolean(),
    }),
    hardState: fc.record({
      termBump: fc.nat(1),
      commit: fc.double({ min: 0, max: 1, noNaN: true }),
      vote: fc.constantFrom("", "a", "b"),
    }),
  },
  { requiredKeys: [] },
);

const opArb = fc.oneof(
  { weight: 6, arbitrary: batchArb.map((b) => ({ kind: "persist" as const, b })) },
  {
    weight: 2,
    arbitrary: fc
      .record({ at: fc.double({ min: 0, max: 1, noNaN: true }), size: fc.nat(30), learner: fc.boolean() })
      .map((c) => ({ kind: "compact" as const, c })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "reopen" as const }) },
);

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

test("many persists and compactions match MemoryStorage fed the same batches, before and after reopen", async (t) => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.array(opArb, { minLength: 1, maxLength: 25 }), async (founder, ops) => {
      runs++;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "conclave-logstore-prop-"));
      let store = await LevelLogStore.open(founder ? { dir, bootstrap: CONF } : { dir });
      try {
        const mem = new MemoryStorage(founder ? { conf: CONF } : {});
        let step = 0;
        for (const op of ops) {
          step++;
          if (op.kind === "reopen") {
            await store.close();
            store = await LevelLogStore.open({ dir });
          } else if (op.kind === "compact") {
            const snapIdx = mem.snapshot().meta.index;
            const last = mem.lastIndex();
            if (last <= snapIdx) continue;
            const at = Math.min(last, snapIdx + 1 + Math.floor(op.c.at * (last - snapIdx)));
            const conf: ConfState = op.c.learner ? { voters: ["a", "b"], learners: ["c"] } : CONF;
            const data = bytes(op.c.size, step);
            mem.createSnapshot(at, conf, data);
            await store.createSnapshot(at, conf, data);
          } else {
            const b = op.b;
            let snapshot: Snapshot | undefined;
            if (b.snapshot) {
              const cur = mem.snapshot().meta;
              snapshot = {
                meta: {
                  index: cur.index + b.snapshot.ahead,
                  term: cur.term + b.snapshot.termBump,
                  conf: CONF,
                },
                data: bytes(b.snapshot.size, step),
              };
            }
            // The log the entries apply to: the new snapshot's (empty) or the current one.
            const offset = snapshot ? snapshot.meta.index : mem.firstIndex() - 1;
            const last = snapshot ? snapshot.meta.index : mem.lastIndex();
            const termAt = (i: number) => (snapshot ? snapshot.meta.term : mem.term(i));
            const entries: Entry[] = [];
            if (b.entries && b.entries.count > 0) {
              const start = Math.max(1, last + 1 - b.entries.back);
              const term = termAt(Math.max(start - 1, offset)) + b.entries.termBump;
              for (let k = 0; k < b.entries.count; k++) {
                const index = start + k;
                entries.push({
                  index,
                  term,
                  type: b.entries.conf && k === 0 ? "conf" : "normal",
                  data: bytes(b.entries.size, index + step),
                });
              }
            }
            const newLast = Math.max(offset, entries.length > 0 ? entries[entries.length - 1]!.index : last);
            let hardState: HardState | undefined;
            if (b.hardState) {
              const cur = mem.hardState();
              hardState = {
                term: cur.term + b.hardState.termBump,
                vote: b.hardState.vote,
                commit: Math.floor(b.hardState.commit * newLast),
              };
            }
            if (snapshot) mem.applySnapshot(snapshot);
            mem.append(entries);
            if (hardState) mem.setHardState(hardState);
            await store.persist({
              entries,
              ...(snapshot ? { snapshot } : {}),
              ...(hardState ? { hardState } : {}),
            });
          }
          // assert (not t.*) so that a failure throws and fast-check shrinks it.
          assert.deepStrictEqual(observe(store), observe(mem), `after op ${step}`);
        }
        await store.close();
        store = await LevelLogStore.open({ dir });
        assert.deepStrictEqual(observe(store), observe(mem), "after the final reopen");
        // Only the live log is on disk.
        const db = Reflect.get(store, "db") as ClassicLevel<Buffer, Buffer>;
        let entryKeys = 0;
        for await (const _ of db.keys({ gte: Buffer.from("e"), lt: Buffer.from("f") })) entryKeys++;
        assert.equal(entryKeys, mem.lastIndex() - mem.firstIndex() + 1);
      } finally {
        await store.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 40 },
  );
  t.true(runs >= 40);
});
