/**
 * The flag-and-environment parsing the shipped handlers share: each setting is a string flag
 * `--NAME` with an environment variable behind it (a flag wins), plus `-h`/`--help`. A value
 * is trimmed, and an empty or blank one counts as not given.
 */
import { parseArgs } from "node:util";

/** A bad flag, environment variable or setting: exit 2, one line naming it; `usage`: print the usage text too. */
export class HandlerSettingsError extends Error {
  override readonly name: string = "HandlerSettingsError";
  /**
   * @param message one line naming the setting.
   * @param usage print the usage text after it.
   */
  constructor(
    message: string,
    readonly usage = false,
  ) {
    super(message);
  }
}

/** What {@link settingsOrExit} decided: go on with the settings, or return this exit code. */
export type SettingsOutcome<T> =
  { readonly kind: "run"; readonly settings: T } | { readonly kind: "exit"; readonly code: number };

/**
 * The start of every shipped handler's `main`: parse its settings. `--help` prints `usage` on
 * stdout (exit 0); a {@link HandlerSettingsError} prints `NAME: message` on stderr, followed by
 * the usage text when the error asks for it (exit 2). Any other error propagates (exit 1).
 */
export function settingsOrExit<T>(name: string, usage: string, parse: () => T | "help"): SettingsOutcome<T> {
  try {
    const settings = parse();
    if (settings === "help") {
      process.stdout.write(usage);
      return { kind: "exit", code: 0 };
    }
    return { kind: "run", settings };
  } catch (e) {
    if (!(e instanceof HandlerSettingsError)) throw e;
    process.stderr.write(`${name}: ${e.message}\n${e.usage ? `\n${usage}` : ""}`);
    return { kind: "exit", code: 2 };
  }
}

/** What {@link parseHandlerSettings} is given. */
export interface HandlerSettingsInput<S extends string> {
  /** The arguments, without node and the script. */
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Each setting: its flag (without `--`) and its environment variable. */
  readonly settings: Readonly<Record<S, string>>;
  /** Whether arguments other than flags are accepted (default false: they are a usage error). */
  readonly positionals?: boolean;
  /** The handler's own settings error (default {@link HandlerSettingsError}); `usage`: print the usage text after the message. */
  readonly error?: (message: string, usage: boolean) => Error;
}

/** The parsed flags and environment. */
export interface HandlerSettingsValues<S extends string> {
  /** The setting's trimmed value, the flag's else the variable's; undefined when not given or blank. */
  get(s: S): string | undefined;
  /** {@link get}, or the handler's error `--FLAG (VARIABLE) is required` (with the usage text). */
  need(s: S): string;
  /** The arguments that are not flags (always empty unless `positionals` was set). */
  readonly positionals: readonly string[];
}

/**
 * Parse the flags, or return `"help"` for `-h`/`--help`.
 * @throws the handler's error (with the usage text) for an unknown or malformed flag, or an
 *   argument that is not a flag when positionals are not accepted.
 */
export function parseHandlerSettings<S extends string>(
  o: HandlerSettingsInput<S>,
): HandlerSettingsValues<S> | "help" {
  const settings: Readonly<Record<string, string>> = o.settings;
  const error = o.error ?? ((message: string, usage: boolean) => new HandlerSettingsError(message, usage));
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    const options = Object.fromEntries(Object.keys(settings).map((k) => [k, { type: "string" as const }]));
    parsed = parseArgs({
      args: [...o.argv],
      options: { ...options, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: o.positionals ?? false,
    });
  } catch (e) {
    throw error((e as Error).message.split("\n")[0]!, true);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  const get = (s: S): string | undefined => {
    const v = (values[s] as string | undefined) ?? o.env[settings[s]!];
    return v === undefined || v.trim() === "" ? undefined : v.trim();
  };
  const need = (s: S): string => {
    const v = get(s);
    if (v === undefined) throw error(`--${s} (${settings[s]}) is required`, true);
    return v;
  };
  return { get, need, positionals };
}
