/**
 * The import graph of a source tree, read from the files themselves (comments stripped), and
 * the layering rules ARCHITECTURE.md states, checked against it. Kept apart from the test so
 * the same checker runs on the real `src/` and on a planted tree that must fail.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

/** One file's imports: relative ones resolved to repository paths, the rest as written. */
export interface FileImports {
  /** Repository-relative path with `/` separators, e.g. `src/coordinator/kv-store.ts`. */
  readonly file: string;
  /** Resolved repository-relative paths of its relative imports. */
  readonly local: readonly string[];
  /** Bare specifiers (`node:crypto`, `pino`, `@grpc/grpc-js`). */
  readonly external: readonly string[];
}

/** The source without comments (line and block), keeping strings as they are. */
export function stripComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

const SPECIFIER = /\b(?:from\s+|import\s*\(\s*|import\s+)"([^"]+)"/g;

function toPosix(p: string): string {
  return p.split(sep).join("/");
}

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...tsFiles(p));
    else if (p.endsWith(".ts") && !p.endsWith(".d.ts")) out.push(p);
  }
  return out;
}

/** Read the imports of every `.ts` file under `root/dir`, paths relative to `root`. */
export function readImports(root: string, dir: string): FileImports[] {
  return tsFiles(join(root, dir))
    .sort()
    .map((abs) => {
      const local: string[] = [];
      const external: string[] = [];
      for (const m of stripComments(readFileSync(abs, "utf8")).matchAll(SPECIFIER)) {
        const spec = m[1]!;
        if (spec.startsWith(".")) local.push(toPosix(relative(root, resolve(dirname(abs), spec))));
        else external.push(spec);
      }
      return { file: toPosix(relative(root, abs)), local, external };
    });
}

/** One broken rule: the importing file, what it imports, and the rule's name. */
export interface Violation {
  readonly file: string;
  readonly imports: string;
  readonly rule: string;
}

const under = (p: string, folder: string): boolean => p.startsWith(`${folder}/`);

/**
 * The layering rules:
 * - `src/coordinator/` (the replicated state machine) imports only `raft/`, `src/contract/`,
 *   itself and `node:crypto` (hashing is deterministic; nothing else of Node is);
 * - `src/contract/` imports only itself: it is what the outside world relies on;
 * - member code (`src/member/`) never imports elector code (`src/elector/`) and vice versa:
 *   they run in different processes and meet only through `contract/` and `rpc/`;
 * - the shipped handlers (`handlers/src/`) take from `src/` only the contract and the duration
 *   format: a handler is a separate program and must not depend on the runtime's internals.
 */
export function layeringViolations(files: readonly FileImports[]): Violation[] {
  const out: Violation[] = [];
  for (const f of files) {
    const bad = (imports: string, rule: string): void => void out.push({ file: f.file, imports, rule });
    if (under(f.file, "src/coordinator")) {
      for (const l of f.local)
        if (!under(l, "raft") && !under(l, "src/contract") && !under(l, "src/coordinator"))
          bad(l, "coordinator imports only raft/ and contract/");
      for (const e of f.external) if (e !== "node:crypto") bad(e, "coordinator imports no runtime package");
    }
    if (under(f.file, "src/contract")) {
      for (const l of f.local) if (!under(l, "src/contract")) bad(l, "contract imports only contract/");
      for (const e of f.external) bad(e, "contract imports no package");
    }
    if (under(f.file, "src/member"))
      for (const l of f.local)
        if (under(l, "src/elector")) bad(l, "member code does not import elector code");
    if (under(f.file, "src/elector"))
      for (const l of f.local) if (under(l, "src/member")) bad(l, "elector code does not import member code");
    if (under(f.file, "handlers/src"))
      for (const l of f.local)
        if (under(l, "src") && !under(l, "src/contract") && l !== "src/config/duration.ts")
          bad(l, "handlers take only contract/ and the duration format from src/");
  }
  return out;
}

/**
 * The import cycles: every strongly connected component of more than one file (or a file
 * importing itself), each listed in path order. Tarjan's algorithm, iterative over files.
 */
export function importCycles(files: readonly FileImports[]): string[][] {
  const edges = new Map(files.map((f) => [f.file, f.local.filter((l) => l !== undefined)]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (edges.get(v) ?? []).includes(v)) cycles.push(scc.sort());
    }
  };
  for (const f of files) if (!index.has(f.file)) visit(f.file);
  return cycles;
}
