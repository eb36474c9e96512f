/**
 * The test tree itself: every test file matches ava's `files` glob (so `npm test` runs it),
 * and each lies in exactly one folder of `npm run test:unit` or `npm run test:cluster`, so the
 * two scripts together run everything `npm test` runs, and nothing twice.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  scripts: Record<string, string>;
  ava: { files: string[] };
};

function files(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((e) => {
    const p = `${dir}/${e}`;
    return statSync(join(ROOT, p)).isDirectory() ? files(p) : [p];
  });
}

/** The folders an `ava DIR...` script runs. */
function folders(script: string): string[] {
  const [cmd, ...args] = pkg.scripts[script]!.trim().split(/\s+/);
  if (cmd !== "ava") throw new Error(`${script} is not a plain ava run: ${pkg.scripts[script]}`);
  return args.map((a) => a.replace(/\/$/, ""));
}

test("every test file matches ava's glob and lies in one folder of test:unit or test:cluster", (t) => {
  t.deepEqual(pkg.ava.files, ["test/**/*.test.ts"]);
  t.is(pkg.scripts.test, "ava");
  const all = files("test");
  // A file that looks like a test but that the glob misses would silently never run.
  t.deepEqual(
    all.filter((f) => /\.(test|spec)\.[cm]?[jt]sx?$/.test(f) && !f.endsWith(".test.ts")),
    [],
  );
  const tests = all.filter((f) => f.endsWith(".test.ts"));
  t.true(tests.length > 0);
  const split = [...folders("test:unit"), ...folders("test:cluster")];
  for (const f of tests) {
    const homes = split.filter((d) => relative(d, f).split("/")[0] !== "..");
    t.is(homes.length, 1, `${f} is run by ${homes.length} of the folders ${split.join(", ")}`);
  }
});
