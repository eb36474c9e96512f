/**
 * The production build (`npm run build`, run by `npm ci` through `prepare`) is what
 * `bin/conclave` runs. Its one step beyond tsc: `dist/src/config/zod.js` and `dist/src/config/yaml.js` are
 * minified bundles of those packages (src/zod.ts says why), so this checks the bundles and an
 * agent that reads and validates its config through them, from `bin/conclave` itself.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUNDLES = ["zod", "yaml"].map((name) => join(ROOT, `dist/src/config/${name}.js`));

function conclaveBin(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, "bin/conclave"), ...args], (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

for (const bundle of BUNDLES) {
  test(`${bundle.slice(ROOT.length)} is one minified module that imports only Node's own`, (t) => {
    t.true(existsSync(bundle), "dist/ is missing a bundle: run `npm run build` (npm ci runs it)");
    const text = readFileSync(bundle, "utf8");
    const imports = [...text.matchAll(/\bfrom\s*["']([^"']+)["']/g)].map((m) => m[1]);
    t.deepEqual(
      imports.filter((m) => !m!.startsWith("node:")),
      [],
      "the package is inside the bundle",
    );
    const lines = text.split("\n").length;
    // Readable code averages about 40 characters a line; minified, hundreds or more.
    t.true(text.length / lines > 400, `the bundle is minified (${lines} lines for ${text.length} bytes)`);
    t.true(text.length < 600_000, `the bundle is ${text.length} bytes`);
  });
}

test("bin/conclave validates a config through the bundle: a bad one names the file and key, exit 2", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-build-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const token = join(dir, "token");
  writeFileSync(token, "a-token-of-enough-length\n", { mode: 0o600 });
  const file = join(dir, "conclave.yaml");
  const base = [
    "name: m1",
    "roles: [member]",
    "listen: 127.0.0.1:7499",
    "cluster:",
    "  electors: { e1: 127.0.0.1:7401 }",
    `  token_file: ${token}`,
  ];
  writeFileSync(file, [...base, "timing:", "  heartbeat: soon", ""].join("\n"));
  const bad = await conclaveBin(["agent", "--config", file]);
  t.is(bad.code, 2, bad.stderr);
  t.regex(bad.stderr.trim(), /conclave\.yaml: timing\.heartbeat: /);
  // A valid check file goes through the same schemas and runs.
  const checks = join(dir, "checks.yaml");
  writeFileSync(checks, `- name: token\n  type: file_exists\n  path: ${token}\n`);
  const ok = await conclaveBin(["checks", "test", checks]);
  t.is(ok.code, 0, ok.stderr);
  t.regex(ok.stdout, /^token\s+file_exists\s+pass\s/m);
});
