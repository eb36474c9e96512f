/**
 * The schema of one check definition ({@link checkSchema}) and validation of a list of them
 * ({@link parseChecks}). A check is defined in `checks:` of `conclave.yaml`, in a checks file
 * (`conclave checks apply/test FILE`), or arrives from the leader as the cluster-wide set; all
 * three are validated here, so a definition means the same wherever it was written. Reading
 * checks files (and gossipcheck's format) is the member's business: `member/checks/check-file.ts`.
 */
import { ConfigError, describe, quote } from "./config-error.ts";
import { isRecord } from "./is-record.ts";
import { CHECK_DEFAULTS, type CheckCommon, type CheckConfig, type Run } from "./node-config.ts";
import {
  commandSchema,
  durationSchema,
  hostPortSchema,
  nameSchema,
  nonEmpty,
  uniqueNames,
} from "./schema-fields.ts";
import { parseWith } from "./zod-problems.ts";
import { z } from "./zod.ts";

/** The fields every check type has. */
const checkCommon = {
  name: nameSchema("check"),
  interval: durationSchema(CHECK_DEFAULTS.intervalMs),
  timeout: durationSchema(CHECK_DEFAULTS.timeoutMs),
  fall: z.int().min(1).default(CHECK_DEFAULTS.fall),
  rise: z.int().min(1).default(CHECK_DEFAULTS.rise),
  action: commandSchema(false),
};

/** An http: or https: URL. */
const httpUrl = z.string().superRefine((s, ctx) => {
  let url: URL | null = null;
  try {
    url = new URL(s);
  } catch {
    // reported below
  }
  if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) {
    ctx.addIssue({ code: "custom", message: `must be an http:// or https:// URL, got ${quote(s)}` });
  }
});

/** The definitions by `type`, in the YAML's own (snake_case) shape. */
const checkVariants = z.discriminatedUnion("type", [
  z.strictObject({ ...checkCommon, type: z.literal("file_exists"), path: nonEmpty }),
  z.strictObject({ ...checkCommon, type: z.literal("file_contains"), path: nonEmpty, contains: nonEmpty }),
  z
    .strictObject({
      ...checkCommon,
      type: z.literal("process_running"),
      path: nonEmpty.optional(),
      cmdline: nonEmpty.optional(),
    })
    .refine((c) => c.path !== undefined || c.cmdline !== undefined, {
      message: "a process_running check needs path, cmdline or both",
    }),
  z.strictObject({
    ...checkCommon,
    type: z.literal("http"),
    url: httpUrl,
    expect: nonEmpty.optional(),
    status: z.int().min(100).max(599).default(CHECK_DEFAULTS.status),
  }),
  z.strictObject({ ...checkCommon, type: z.literal("tcp"), address: hostPortSchema }),
  z.strictObject({ ...checkCommon, type: z.literal("command"), run: commandSchema(true) }),
]);

/**
 * The schema of one check definition, as written in YAML (`checks[i]` of `conclave.yaml`, or
 * an entry of a file given to `conclave checks apply`), producing a {@link CheckConfig}.
 * Use {@link parseChecks} for a list: it adds the unique-name rule and the error style.
 */
export const checkSchema = checkVariants.transform((c): CheckConfig => {
  const common: CheckCommon = {
    name: c.name,
    intervalMs: c.interval,
    timeoutMs: c.timeout,
    fall: c.fall,
    rise: c.rise,
    action: c.action,
  };
  switch (c.type) {
    case "file_exists":
      return { ...common, type: c.type, path: c.path };
    case "file_contains":
      return { ...common, type: c.type, path: c.path, contains: c.contains };
    case "process_running":
      return { ...common, type: c.type, path: c.path ?? null, cmdline: c.cmdline ?? null };
    case "http":
      return { ...common, type: c.type, url: c.url, expect: c.expect ?? null, status: c.status };
    case "tcp":
      return { ...common, type: c.type, address: c.address };
    case "command":
      return { ...common, type: c.type, run: c.run as Run };
  }
});

/**
 * Validate a list of check definitions on its own (for `conclave checks apply FILE` and
 * `checks test FILE`). `raw` is either the list itself or a mapping with just `checks:`, so
 * the `checks:` part of a `conclave.yaml` can be used as it is. Check names must be unique.
 * @param source the file name (or other origin) to name in error messages; keys read
 *   `checks[1].url` in either form
 * @throws ConfigError on the first problem
 */
export function parseChecks(raw: unknown, source: string): CheckConfig[] {
  try {
    return parseChecksRaw(raw, source);
  } catch (e) {
    // Name the check, not just its position: `checks[1] (nginx).url: ...`.
    const m = e instanceof ConfigError && e.key !== null ? /^checks\[(\d+)\](.*)$/.exec(e.key) : null;
    const list = Array.isArray(raw) ? raw : isRecord(raw) && Array.isArray(raw.checks) ? raw.checks : [];
    const item: unknown = m ? list[Number(m[1])] : undefined;
    if (m && e instanceof ConfigError && isRecord(item) && typeof item.name === "string") {
      throw new ConfigError(e.file, `checks[${m[1]}] (${item.name})${m[2]}`, e.problem, e.line);
    }
    throw e;
  }
}

/** {@link parseChecks} without naming the check in the key. */
function parseChecksRaw(raw: unknown, source: string): CheckConfig[] {
  let checks: CheckConfig[];
  if (Array.isArray(raw)) {
    checks = parseWith(z.array(checkSchema), raw, source, ["checks"]);
  } else if (isRecord(raw)) {
    checks = parseWith(z.strictObject({ checks: z.array(checkSchema) }), raw, source, []).checks;
  } else {
    const got = raw === null || raw === undefined ? "nothing" : describe(raw);
    throw new ConfigError(source, null, `must hold a list of checks (or a mapping with checks:), got ${got}`);
  }
  uniqueNames(checks, "check", "checks", source);
  return checks;
}
