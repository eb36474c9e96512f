/**
 * {@link ConfigError}, the one error a config or checks file that does not parse or validate
 * throws, and how values are written inside its messages ({@link quote}, {@link describe}).
 *
 * The message is always one line naming the file, the key (a dotted path in the YAML's own
 * spelling, such as `timing.election_timeout` or `handlers[1].on[0]`) and what is wrong: the
 * CLI prints it as it is and exits 2, so an operator sees where to look without a stack trace.
 */

/** A config problem. The message is one line: `FILE: KEY: PROBLEM` (or `FILE: PROBLEM`). */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** The file (as given), or the source name passed to `parseChecks`. */
  readonly file: string;
  /** The YAML key path, e.g. `handlers[1].on[0]`, or null for the file as a whole. */
  readonly key: string | null;
  /** What is wrong. */
  readonly problem: string;
  /** Line number, for YAML syntax errors. */
  readonly line: number | null;

  /** Build the one-line message from its parts (line breaks in `problem` become spaces). */
  constructor(file: string, key: string | null, problem: string, line: number | null = null) {
    const text = problem.replace(/\s*[\r\n]+\s*/g, " ").trim();
    super(`${file}: ${key === null || key === "" ? "" : `${key}: `}${text}`);
    this.file = file;
    this.key = key === "" ? null : key;
    this.problem = text;
    this.line = line;
  }
}

/** A string as a message shows it: in double quotes, escaped as JSON. */
export function quote(s: string): string {
  return JSON.stringify(s);
}

/** A value as it appears in a message: strings quoted (and shortened), others by kind. */
export function describe(v: unknown): string {
  if (typeof v === "string") return quote(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return typeof v;
}
