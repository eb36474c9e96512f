/**
 * Reading services_dir: services sorted by priority then name, missing scripts skipped, a
 * missing services_dir no services with a warning, and every problem a ServicesDirError naming
 * the path at fault.
 */
import test from "ava";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  readServicesDir,
  ServicesDirError,
  sortByPriority,
} from "../../../../src/member/services/services-dir.ts";

function tempDir(t: { teardown: (f: () => void) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-services-dir-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function service(
  root: string,
  name: string,
  opts: { priority?: string; scripts?: string[]; mode?: number } = {},
): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  if (opts.priority !== undefined) writeFileSync(join(dir, "priority"), opts.priority);
  for (const s of opts.scripts ?? ["start"]) {
    writeFileSync(join(dir, s), "#!/bin/sh\nexit 0\n");
    chmodSync(join(dir, s), opts.mode ?? 0o755);
  }
  return dir;
}

test("services are sorted by priority, then by name", (t) => {
  const root = tempDir(t);
  service(root, "zeta", { priority: "1\n" });
  service(root, "alpha", { priority: "5" });
  service(root, "beta"); // no priority file: 0
  service(root, "gamma", { priority: "-3" });
  service(root, "aardvark", { priority: "1" });
  const got = readServicesDir(root);
  t.deepEqual(
    got.map((s) => [s.name, s.priority]),
    [
      ["gamma", -3],
      ["beta", 0],
      ["aardvark", 1],
      ["zeta", 1],
      ["alpha", 5],
    ],
  );
  t.is(got[0]!.dir, join(root, "gamma"));
});

test("sortByPriority orders by priority, then name, without changing its input", (t) => {
  const input = [
    { name: "b", priority: 2 },
    { name: "a", priority: 2 },
    { name: "c", priority: 1 },
  ];
  t.deepEqual(
    sortByPriority(input).map((s) => s.name),
    ["c", "a", "b"],
  );
  t.deepEqual(
    input.map((s) => s.name),
    ["b", "a", "c"],
  );
});

test("missing scripts are skipped; present ones are listed by absolute path", (t) => {
  const root = tempDir(t);
  const dir = service(root, "db", { scripts: ["start", "promote", "demote"] });
  const [db] = readServicesDir(root);
  t.deepEqual(db!.scripts, {
    start: join(dir, "start"),
    promote: join(dir, "promote"),
    demote: join(dir, "demote"),
  });
  t.false("stop" in db!.scripts);
  t.false("status" in db!.scripts);
});

test("a service folder with no scripts at all is still a service", (t) => {
  const root = tempDir(t);
  service(root, "empty", { scripts: [] });
  const got = readServicesDir(root);
  t.deepEqual(
    got.map((s) => [s.name, s.priority, s.scripts]),
    [["empty", 0, {}]],
  );
});

test("plain files and dot folders in services_dir are not services", (t) => {
  const root = tempDir(t);
  service(root, "web");
  writeFileSync(join(root, "README"), "notes\n");
  mkdirSync(join(root, ".git"));
  t.deepEqual(
    readServicesDir(root).map((s) => s.name),
    ["web"],
  );
});

test("a symbolic link to a service folder is a service; a link to nothing is an error naming it", (t) => {
  const root = tempDir(t);
  const elsewhere = tempDir(t);
  service(elsewhere, "real");
  symlinkSync(join(elsewhere, "real"), join(root, "linked"));
  t.deepEqual(
    readServicesDir(root).map((s) => s.name),
    ["linked"],
  );
  symlinkSync(join(elsewhere, "gone"), join(root, "dangling"));
  const err = t.throws(() => readServicesDir(root), { instanceOf: ServicesDirError });
  t.true(err!.message.includes(join(root, "dangling")), err!.message);
});

test("a script that is present but not executable names its path and says chmod", (t) => {
  const root = tempDir(t);
  const dir = service(root, "db", { scripts: ["promote"], mode: 0o644 });
  const err = t.throws(() => readServicesDir(root), { instanceOf: ServicesDirError });
  t.true(err!.message.includes(join(dir, "promote")), err!.message);
  t.regex(err!.message, /chmod \+x/);
});

test("a script name that is a directory is an error naming it", (t) => {
  const root = tempDir(t);
  const dir = service(root, "db", { scripts: [] });
  mkdirSync(join(dir, "stop"));
  const err = t.throws(() => readServicesDir(root), { instanceOf: ServicesDirError });
  t.true(err!.message.includes(join(dir, "stop")), err!.message);
  t.regex(err!.message, /executable file/);
});

test("a priority file that is not a whole number names the file and the text", (t) => {
  for (const bad of ["high", "1.5", "", "2 3"]) {
    const root = tempDir(t);
    const dir = service(root, "db", { priority: bad });
    const err = t.throws(() => readServicesDir(root), { instanceOf: ServicesDirError });
    t.true(err!.message.includes(join(dir, "priority")), err!.message);
    t.true(err!.message.includes(JSON.stringify(bad.trim())), err!.message);
  }
});

test("a bad service folder name is an error naming the folder", (t) => {
  for (const bad of ["-leading-dash", "has space", "x".repeat(65)]) {
    const root = tempDir(t);
    service(root, "good");
    service(root, bad);
    const err = t.throws(() => readServicesDir(root), { instanceOf: ServicesDirError });
    t.true(err!.message.includes(join(root, bad)), err!.message);
    t.regex(err!.message, /service name/);
  }
});

test("a missing services_dir is no services, with one warning naming it", (t) => {
  const root = tempDir(t);
  const missing = join(root, "no-such-dir");
  const warnings: string[] = [];
  t.deepEqual(
    readServicesDir(missing, (m) => warnings.push(m)),
    [],
  );
  t.deepEqual(warnings, [`services_dir ${missing} does not exist: this node runs no services`]);
  // Without a listener it is still no services, not an error.
  t.deepEqual(readServicesDir(missing), []);
});

test("a services_dir that exists but is not a directory, or is a link to nothing, is an error naming it", (t) => {
  const root = tempDir(t);
  const file = join(root, "a-file");
  writeFileSync(file, "not a directory\n");
  const dangling = join(root, "dangling");
  symlinkSync(join(root, "gone"), dangling);
  const underFile = join(file, "services");
  for (const [dir, code] of [
    [file, /ENOTDIR/],
    [dangling, /ENOENT/],
    [underFile, /ENOTDIR/],
  ] as const) {
    const warnings: string[] = [];
    const err = t.throws(() => readServicesDir(dir, (m) => warnings.push(m)), {
      instanceOf: ServicesDirError,
    });
    t.true(err!.message.startsWith(`services_dir ${dir}: `), err!.message);
    t.regex(err!.message, code);
    t.deepEqual(warnings, [], `${dir}: an error, not a warning`);
  }
});

const asRoot = process.getuid?.() === 0;
(asRoot ? test.skip : test)(
  `a services_dir that cannot be read is an error naming it${asRoot ? " [skipped: root reads any directory]" : ""}`,
  (t) => {
    const root = tempDir(t);
    const dir = join(root, "locked");
    mkdirSync(dir, { mode: 0o000 });
    t.teardown(() => chmodSync(dir, 0o755));
    const err = t.throws(() => readServicesDir(dir), { instanceOf: ServicesDirError });
    t.true(err!.message.startsWith(`services_dir ${dir}: `), err!.message);
    t.regex(err!.message, /EACCES/);
  },
);
