/**
 * Fixtures for the LevelDB log store's tests (not a test file itself): temporary data dirs,
 * entries, a comparable view of everything a reader observes, raw access to the database
 * underneath the store, and a seeded founder.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ExecutionContext } from "ava";
import { ClassicLevel } from "classic-level";
import type { ConfState, Entry, Snapshot } from "../../../raft/index.ts";
import { DataDirCorruptError } from "../../../src/storage/data-dir-errors.ts";
import { LevelLogStore } from "../../../src/storage/log-store-level.ts";

/** The founders of every test store. */
export const CONF: ConfState = { voters: ["a", "b", "c"], learners: [] };

/** A fresh temporary directory, removed with the test. */
export function tmpDir(t: ExecutionContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "conclave-logstore-"));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Entry `index` of `term` (every third a conf entry), its data `text`. */
export function ent(index: number, term: number, text = `entry ${index}`): Entry {
  return { index, term, type: index % 3 === 0 ? "conf" : "normal", data: new TextEncoder().encode(text) };
}

/** Entries `lo`..`hi` of `term`. */
export function range(lo: number, hi: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = lo; i <= hi; i++) out.push(ent(i, term));
  return out;
}

/** Comparable form of an entry (data as hex, whatever its Uint8Array subclass). */
export function plain(e: Entry) {
  return { index: e.index, term: e.term, type: e.type, data: Buffer.from(e.data).toString("hex") };
}

/** Comparable form of a snapshot (data as hex). */
export function plainSnap(s: Snapshot) {
  return { meta: s.meta, data: Buffer.from(s.data).toString("hex") };
}

/** The read side of a store (LevelLogStore or MemoryStorage). */
export type Reads = Pick<
  LevelLogStore,
  "firstIndex" | "lastIndex" | "entries" | "term" | "snapshot" | "hardState" | "initialState"
>;

/** Everything a reader can observe, in comparable form. */
export function observe(s: Reads) {
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

/** The data dir's database opened directly, bypassing the store. */
export async function rawOpen(dir: string): Promise<ClassicLevel<Buffer, Buffer>> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, { keyEncoding: "buffer", valueEncoding: "buffer" });
  await db.open({ createIfMissing: false });
  return db;
}

/** Every key and value in the data dir, as hex. */
export async function rawDump(dir: string): Promise<Map<string, string>> {
  const db = await rawOpen(dir);
  const out = new Map<string, string>();
  for await (const [k, v] of db.iterator()) out.set(k.toString("hex"), v.toString("hex"));
  await db.close();
  return out;
}

/** A founder with entries 2..5 (term 1) and commit 4, closed. */
export async function seeded(t: ExecutionContext): Promise<string> {
  const dir = tmpDir(t);
  const s = await LevelLogStore.open({ dir, bootstrap: CONF });
  await s.persist({ entries: range(2, 5, 1), hardState: { term: 1, vote: "a", commit: 4 } });
  await s.close();
  return dir;
}

/** Opening `dir` fails verification; returns the error. */
export async function openFails(t: ExecutionContext, dir: string): Promise<DataDirCorruptError> {
  const err = await t.throwsAsync(LevelLogStore.open({ dir }), { instanceOf: DataDirCorruptError });
  return err!;
}
