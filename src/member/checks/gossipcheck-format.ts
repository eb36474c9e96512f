/**
 * gossipcheck's check file format, accepted by `conclave checks apply/test` so its users can
 * bring their definitions as they are: a JSON object keyed by check name,
 * `{"NAME": {"type", "path", "check", "action"}}`, where `path` is what the check looks at and
 * `check` is what it expects. Converted to the form of docs/checks.md:
 *
 * | type | path → | check → |
 * | --- | --- | --- |
 * | file_exists | path | (unused) |
 * | file_contains | path | contains |
 * | process_running | path (executable) | cmdline |
 * | http | url | expect |
 * | tcp | address | (unused) |
 * | command | run | (unused) |
 *
 * Other keys (interval, timeout, fall, rise) pass through unchanged, so they are validated
 * like any definition. Read through `check-file.ts`.
 */
import { ConfigError } from "../../config/config-error.ts";
import { isRecord } from "../../config/is-record.ts";

/** Per type, the key (docs/checks.md) gossipcheck's `path` becomes. */
const PATH_KEY: Record<string, string> = {
  file_exists: "path",
  file_contains: "path",
  process_running: "path",
  http: "url",
  tcp: "address",
  command: "run",
};

/** Per type, the key (docs/checks.md) gossipcheck's `check` becomes; a type not listed has no use for it. */
const CHECK_KEY: Record<string, string> = {
  file_contains: "contains",
  process_running: "cmdline",
  http: "expect",
};

/** Whether `raw` looks like a gossipcheck file: a mapping of names to objects with a `type`. */
export function isGossipcheckFormat(raw: unknown): raw is Record<string, Record<string, unknown>> {
  if (!isRecord(raw) || "checks" in raw) return false;
  const values = Object.values(raw);
  return values.length > 0 && values.every((v) => isRecord(v) && "type" in v);
}

/**
 * Convert a gossipcheck file to a list of definitions in the form of docs/checks.md.
 * @throws ConfigError naming the check and the key for a `check` that the type cannot use
 */
export function fromGossipcheck(raw: Record<string, Record<string, unknown>>, source: string): unknown[] {
  return Object.entries(raw).map(([name, def]) => {
    const { type, path, check, ...rest } = def;
    const out: Record<string, unknown> = { name, type, ...rest };
    const typeName = typeof type === "string" ? type : "";
    if (path !== undefined) out[PATH_KEY[typeName] ?? "path"] = path;
    if (check !== undefined) {
      const key = CHECK_KEY[typeName];
      if (key === undefined) {
        throw new ConfigError(
          source,
          `${name}.check`,
          `a ${typeName || "check without a type"} check has no use for "check"`,
        );
      }
      out[key] = check;
    }
    return out;
  });
}
