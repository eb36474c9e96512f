/**
 * raft/ stays pure (ARCHITECTURE.md's layering): no import of Node modules or I/O packages, no timers,
 * no clock, no Math.random. Time comes in as ticks and randomness from an injected generator,
 * which is what makes a seeded simulation replay exactly. Comments are stripped first, so a
 * comment that names what is forbidden does not count; code that uses it does.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";

const RAFT = join(import.meta.dirname, "..", "..", "raft");

const FORBIDDEN: readonly [string, RegExp][] = [
  ["an import of a Node module", /\bfrom\s+["'](node:|fs|net|child_process|timers|os|crypto|worker_threads)/],
  ["an import of an I/O package", /\bfrom\s+["'](@grpc|level|classic-level|pino|protobufjs)/],
  ["a dynamic import or require", /\b(import|require)\s*\(/],
  ["Math.random", /\bMath\.random\b/],
  ["a clock", /\b(Date\.now|new Date|performance\.now|process\.hrtime)\b/],
  ["a timer", /\b(setTimeout|setInterval|setImmediate|queueMicrotask)\s*\(/],
  ["process", /\bprocess\./],
];

/** The source without comments (line and block), keeping strings as they are. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

test("raft/ imports no Node module or I/O package and uses no timer, clock or Math.random", (t) => {
  const files = readdirSync(RAFT).filter((f) => f.endsWith(".ts"));
  t.true(files.length > 5, `found the raft sources (${files.length} files)`);
  const found: string[] = [];
  for (const f of files) {
    const lines = code(readFileSync(join(RAFT, f), "utf8")).split("\n");
    lines.forEach((line, i) => {
      for (const [what, re] of FORBIDDEN)
        if (re.test(line)) found.push(`raft/${f}:${i + 1}: ${what}: ${line.trim()}`);
    });
  }
  t.deepEqual(found, []);
});

test("the purity scan sees through comments but not around code", (t) => {
  t.false(/Math\.random/.test(code("// never Math.random here\n/* nor Date.now */ const x = 1;")));
  t.true(/setTimeout\s*\(/.test(code("const t = setTimeout(() => 0, 1); // a comment")));
});
