/**
 * zod's problems turned into one {@link ConfigError}: {@link parseWith} validates a document
 * against a schema and, when it fails, reports the single problem that comes first in the file
 * (so fixing problems top to bottom never shows a later one first), worded in the config's own
 * terms: the key in YAML spelling (`handlers[1].on[0]`), what was expected, what was found, and
 * for an unknown key or value a "did you mean" hint when it is near a known one (a typo).
 *
 * Schema-level messages (custom issues) are kept as written; only zod's built-in issues are
 * reworded here ({@link issueMessage}).
 */
import { z } from "./zod.ts";
import { ConfigError, describe } from "./config-error.ts";
import { isRecord } from "./is-record.ts";

/** A key path inside a document: mapping keys and list indexes. */
export type Path = readonly PropertyKey[];

/**
 * Parse `raw` with `schema`; on failure throw a ConfigError for the issue that comes first in
 * the file.
 * @param file the file (or source) the error names
 * @param prefix a path put before every issue's own, when `raw` is part of a larger document
 * @throws ConfigError
 */
export function parseWith<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  file: string,
  prefix: Path,
): z.output<S> {
  const knownKeys = new Map<unknown, readonly string[]>();
  const result = schema.safeParse(raw, { error: (iss) => issueMessage(iss, knownKeys) });
  if (result.success) return result.data;
  const problems: { path: Path; message: string }[] = [];
  for (const iss of result.error.issues) {
    if (iss.code === "unrecognized_keys") {
      const known = knownKeys.get(valueAt(raw, iss.path)) ?? [];
      for (const key of iss.keys)
        problems.push({ path: [...iss.path, key], message: unknownKey(key, known) });
    } else {
      problems.push({ path: iss.path, message: iss.message });
    }
  }
  const order = problems.map((p) => orderKey(raw, p.path));
  let best = 0;
  for (let i = 1; i < problems.length; i++) {
    if (compareKeys(order[i]!, order[best]!) < 0) best = i;
  }
  const first = problems[best]!;
  throw new ConfigError(file, formatPath([...prefix, ...first.path]), first.message);
}

/** Our wording for zod's built-in issues (schema-level messages take precedence). */
function issueMessage(
  iss: z.core.$ZodRawIssue,
  knownKeys: Map<unknown, readonly string[]>,
): string | undefined {
  switch (iss.code) {
    case "invalid_type":
      if (iss.input === undefined) return "is required";
      if (iss.input === null) return "has no value";
      return `must be ${EXPECTED[iss.expected] ?? iss.expected}, got ${describe(iss.input)}`;
    case "too_small":
      if (iss.origin === "array")
        return Number(iss.minimum) <= 1 ? "must not be empty" : `needs at least ${iss.minimum} entries`;
      if (iss.origin === "string")
        return Number(iss.minimum) <= 1 ? "must not be empty" : `needs at least ${iss.minimum} characters`;
      return `must be at least ${iss.minimum}, got ${describe(iss.input)}`;
    case "too_big":
      if (iss.origin === "array" || iss.origin === "string") return `is too long (at most ${iss.maximum})`;
      return `must be at most ${iss.maximum}, got ${describe(iss.input)}`;
    case "invalid_value":
      return oneOf(
        iss.values.map((v) => String(v)),
        iss.input,
      );
    case "invalid_union":
      if (typeof iss.discriminator === "string" && isRecord(iss.input)) {
        const value = iss.input[iss.discriminator];
        const options = ((iss.options ?? []) as readonly unknown[]).map((v) => String(v));
        if (value === undefined) return `is required: one of ${options.join(", ")}`;
        return oneOf(options, value);
      }
      return undefined;
    case "unrecognized_keys":
      if (iss.inst instanceof z.ZodObject) knownKeys.set(iss.input, Object.keys(iss.inst.shape));
      return "unknown key";
    default:
      return undefined;
  }
}

/** How an expected zod type reads in a message. */
const EXPECTED: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  record: "a mapping",
};

/** "must be one of ...", with a typo hint when `got` is near one of `options`. */
function oneOf(options: readonly string[], got: unknown): string {
  const near = typeof got === "string" ? closest(got, options) : null;
  const hint = near ? ` (did you mean ${near}?)` : "";
  return `must be one of ${options.join(", ")}, got ${describe(got)}${hint}`;
}

/** The message for an unknown key: the known key it is a typo of, or the known keys. */
function unknownKey(key: string, known: readonly string[]): string {
  const near = closest(key, known);
  if (near) return `unknown key (did you mean ${near}?)`;
  return known.length > 0 ? `unknown key; expected one of ${known.join(", ")}` : "unknown key";
}

/** The option nearest to `word` by edit distance, if it is near enough to be a typo. */
function closest(word: string, options: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(1, Math.floor(word.length / 3)) + 1;
  for (const o of options) {
    const d = editDistance(word.toLowerCase(), o.toLowerCase());
    if (d < bestDistance) {
      best = o;
      bestDistance = d;
    }
  }
  return best;
}

/** Edit distance counting insertions, deletions, substitutions and adjacent swaps. */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      let d = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, before[j - 2]! + 1);
      cur[j] = d;
    }
    before = prev;
    prev = cur;
  }
  return prev[b.length]!;
}

/** The value at `path` in the document, or undefined when the path leads nowhere. */
function valueAt(raw: unknown, path: Path): unknown {
  let node = raw;
  for (const seg of path) {
    if (Array.isArray(node) && typeof seg === "number") node = node[seg];
    else if (isRecord(node) && typeof seg === "string" && Object.hasOwn(node, seg)) node = node[seg];
    else return undefined;
  }
  return node;
}

/**
 * Where a path falls in the document: per step, the index in the list, or the position of
 * the key among its mapping's keys (YAML keeps file order). A missing key sorts after the
 * keys that are present, since it is the rest of the file that was written.
 */
function orderKey(raw: unknown, path: Path): number[] {
  const key: number[] = [];
  let node = raw;
  for (const seg of path) {
    if (Array.isArray(node) && typeof seg === "number") {
      key.push(seg);
      node = node[seg];
    } else if (isRecord(node)) {
      const keys = Object.keys(node);
      const i = keys.indexOf(String(seg));
      key.push(i < 0 ? keys.length : i);
      node = i < 0 ? undefined : node[String(seg)];
    } else {
      key.push(0);
      node = undefined;
    }
  }
  return key;
}

/** Document order of two {@link orderKey} results (negative: `a` comes first). */
function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** `["handlers", 1, "on", 0]` to `handlers[1].on[0]`; odd keys are quoted: `electors["a b"]`. */
export function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (typeof seg === "string" && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg))
      out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}
