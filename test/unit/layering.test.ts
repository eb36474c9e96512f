/**
 * The layering ARCHITECTURE.md draws, enforced: the replicated state machine imports only
 * raft/ and contract/, the contract imports nothing of the runtime, member and elector code
 * never import each other, and no import cycle exists anywhere in src/. The checker is shown
 * to fail on a planted tree, so a clean result here means something.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import test from "ava";
import { importCycles, layeringViolations, readImports, stripComments } from "../support/import-graph.ts";

const ROOT = join(import.meta.dirname, "..", "..");

test("src/ keeps its layering: coordinator and contract stay pure, member and elector stay apart", (t) => {
  const files = [...readImports(ROOT, "src"), ...readImports(ROOT, "handlers/src")];
  t.true(files.length > 40, `read the src sources (${files.length} files)`);
  t.true(
    files.some(
      (f) => f.file.startsWith("src/coordinator/") && f.local.some((l) => l.startsWith("src/contract/")),
    ),
    "the scan sees coordinator's imports of contract/",
  );
  t.deepEqual(layeringViolations(files), []);
});

test("src/ has no import cycle", (t) => {
  const files = readImports(ROOT, "src");
  t.deepEqual(importCycles(files), []);
});

test("the layering check fails on a planted tree: a bad import of each kind and a cycle", (t) => {
  const root = mkdtempSync(join(tmpdir(), "conclave-layering-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const plant = (file: string, text: string): void => {
    mkdirSync(dirname(join(root, file)), { recursive: true });
    writeFileSync(join(root, file), text);
  };
  plant("src/contract/events.ts", 'import { x } from "../config/config.ts";\nexport const e = x;\n');
  plant("src/config/config.ts", "export const x = 1;\n");
  plant(
    "src/coordinator/kv.ts",
    'import { e } from "../contract/events.ts";\nimport { run } from "../elector/leader/runner.ts";\nimport pino from "pino";\n// import { y } from "../member/ignored.ts";\nexport const k = [e, run, pino];\n',
  );
  plant(
    "src/elector/leader/runner.ts",
    'import { link } from "../../member/link.ts";\nexport const run = link;\n',
  );
  plant("handlers/src/dns.ts", 'import { x } from "../../src/config/config.ts";\nexport const d = x;\n');
  plant(
    "src/member/link.ts",
    'import type { run } from "../elector/leader/runner.ts";\nexport const link = 1;\n',
  );
  const files = [...readImports(root, "src"), ...readImports(root, "handlers/src")];
  t.deepEqual(
    layeringViolations(files).map((v) => `${v.file} -> ${v.imports}: ${v.rule}`),
    [
      "src/contract/events.ts -> src/config/config.ts: contract imports only contract/",
      "src/coordinator/kv.ts -> src/elector/leader/runner.ts: coordinator imports only raft/ and contract/",
      "src/coordinator/kv.ts -> pino: coordinator imports no runtime package",
      "src/elector/leader/runner.ts -> src/member/link.ts: elector code does not import member code",
      "src/member/link.ts -> src/elector/leader/runner.ts: member code does not import elector code",
      "handlers/src/dns.ts -> src/config/config.ts: handlers take only contract/ and the duration format from src/",
    ],
  );
  t.deepEqual(importCycles(files), [["src/elector/leader/runner.ts", "src/member/link.ts"]]);
});

test("the import scan ignores commented-out imports and reads multi-line ones", (t) => {
  const text = stripComments(
    '/* import "../a.ts" */\nimport {\n  b,\n} from "../b.ts";\n// from "../c.ts"\n',
  );
  t.deepEqual(
    [...text.matchAll(/from\s+"([^"]+)"/g)].map((m) => m[1]),
    ["../b.ts"],
  );
});
