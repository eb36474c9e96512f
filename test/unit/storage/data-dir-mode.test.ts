/**
 * The data dir's mode (src/storage/data-dir-mode.ts): a new one, and its missing parents, are
 * made 0700; an existing one open to its group or others is opened all the same, with a
 * warning naming it, its mode and the chmod that fixes it.
 */
import { chmodSync, mkdirSync, statSync } from "node:fs";
import path from "node:path";
import test from "ava";
import { ensureDataDir } from "../../../src/storage/data-dir-mode.ts";
import { LevelLogStore } from "../../../src/storage/log-store-level.ts";
import { CONF, tmpDir } from "./store-fixtures.ts";

test("a new data dir and its missing parents are made 0700, with no warning", async (t) => {
  const dir = path.join(tmpDir(t), "var", "conclave");
  const warnings: string[] = [];
  const s = await LevelLogStore.open({ dir, bootstrap: CONF, warn: (m) => warnings.push(m) });
  await s.close();
  t.is(statSync(dir).mode & 0o777, 0o700);
  t.is(statSync(path.dirname(dir)).mode & 0o777, 0o700);
  t.deepEqual(warnings, []);
  t.is(await ensureDataDir(dir), null, "an existing owner-only dir is fine");
});

test("an existing data dir its group or others can access is opened, with a warning", async (t) => {
  const dir = path.join(tmpDir(t), "data");
  mkdirSync(dir);
  chmodSync(dir, 0o750);
  const warnings: string[] = [];
  const s = await LevelLogStore.open({ dir, bootstrap: CONF, warn: (m) => warnings.push(m) });
  t.is(s.lastIndex(), 1, "opened all the same");
  await s.close();
  t.deepEqual(warnings, [
    `data dir ${dir} has mode 0750: its group or others can access the cluster's log (chmod 700 ${dir})`,
  ]);
  t.is(statSync(dir).mode & 0o777, 0o750, "the operator's choice is left alone");
  chmodSync(dir, 0o701);
  t.regex((await ensureDataDir(dir))!, /has mode 0701:/);
});
