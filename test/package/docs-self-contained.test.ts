/**
 * A clone alone is the user contract: no file in the repository links outside it (the
 * product brief one folder up is not shipped) or cites the brief instead of docs/, and every
 * relative link in README.md, ARCHITECTURE.md and docs/ names a file that exists.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** Every tracked file (git ls-files: the tests run in a checkout). */
function trackedFiles(): string[] {
  return execFileSync("git", ["ls-files"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
}
const TEXT = /\.(ts|js|md|proto|yaml|yml|json|sh|service|conf)$|^bin\//;

test("no file links outside the repository or cites the product brief", (t) => {
  const files = trackedFiles().filter((f) => TEXT.test(f) && existsSync(join(ROOT, f)));
  t.true(files.length > 100, "the tracked files were listed");
  // Spelled in parts so that this file does not match itself.
  const outside = ["..", "/shared"].join("");
  const brief = ["DESIGN", ".md"].join("");
  const found = files.flatMap((f) =>
    readFileSync(join(ROOT, f), "utf8")
      .split("\n")
      .flatMap((line, i) =>
        line.includes(outside) || line.includes(brief) ? [`${f}:${i + 1}: ${line.trim()}`] : [],
      ),
  );
  t.deepEqual(found, []);
});

test("every relative link in README.md, ARCHITECTURE.md and docs/ names a file that exists", (t) => {
  const docs = trackedFiles().filter(
    (f) => f === "README.md" || f === "ARCHITECTURE.md" || /^docs\/.*\.md$/.test(f),
  );
  t.true(docs.length >= 5);
  const broken: string[] = [];
  for (const f of docs) {
    for (const [, target] of readFileSync(join(ROOT, f), "utf8").matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:|^#/.test(target!)) continue; // a URL or an anchor in the same file
      const path = target!.split("#")[0]!;
      if (!existsSync(join(ROOT, dirname(f), path))) broken.push(`${f}: ${target}`);
    }
  }
  t.deepEqual(broken, []);
});
