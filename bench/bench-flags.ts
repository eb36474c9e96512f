/**
 * Command-line flags of the benchmark scripts: string and boolean flags, integers with a
 * minimum, `--help`, and bad usage reported as one line plus the usage text (exit 2).
 */
import { parseArgs } from "node:util";

/** Parsed flags. */
export interface BenchFlags {
  /** Raw values by flag name. */
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  /** A string flag's value, if given. */
  str(name: string): string | undefined;
  /** An integer flag (underscores allowed: 10_000), `fallback` when absent; exits 2 when below `min`. */
  intFlag(name: string, value: string | undefined, fallback: number, min: number): number;
}

/** Parse `argv`; prints usage and exits on `--help` (0) or bad usage (2). */
export function parseBenchFlags(options: {
  program: string;
  usage: string;
  argv: string[];
  strings: readonly string[];
  booleans?: readonly string[];
}): BenchFlags {
  const usage = (problem: string): never => {
    process.stderr.write(`${options.program}: ${problem}\n${options.usage}\n`);
    process.exit(2);
  };
  const spec: Record<string, { type: "string" | "boolean"; short?: string }> = {
    help: { type: "boolean", short: "h" },
  };
  for (const s of options.strings) spec[s] = { type: "string" };
  for (const b of options.booleans ?? []) spec[b] = { type: "boolean" };
  let values: Record<string, string | boolean | undefined> = {};
  try {
    ({ values } = parseArgs({ args: options.argv, options: spec, strict: true, allowPositionals: false }));
  } catch (e) {
    usage((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${options.usage}\n`);
    process.exit(0);
  }
  return {
    values,
    str: (k) => (typeof values[k] === "string" ? (values[k] as string) : undefined),
    intFlag: (name, value, fallback, min) => {
      if (value === undefined) return fallback;
      const v = value.replaceAll("_", "");
      if (!/^\d+$/.test(v) || Number(v) < min)
        usage(`--${name} must be an integer >= ${min}, got "${value}"`);
      return Number(v);
    },
  };
}
