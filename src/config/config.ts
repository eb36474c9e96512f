/**
 * The node config file, `conclave.yaml` (DESIGN.md, "Config"): reading, validation and the
 * typed {@link Config} the rest of the node uses.
 *
 * A config that does not parse or validate throws {@link ConfigError}, whose message is one
 * line naming the file, the key (a dotted path in the YAML's own spelling, such as
 * `timing.election_timeout` or `handlers[1].on[0]`) and what is wrong. When several things
 * are wrong, the one that comes first in the file is reported; the CLI prints it and exits 2.
 *
 * In the typed {@link Config}, keys are camelCase and durations are whole milliseconds with
 * an `Ms` suffix; {@link CONFIG_KEYS}, {@link HANDLER_KEYS} and {@link CHECK_KEYS} map each
 * field back to its YAML key for messages about it. Relative paths in the file (`data_dir`,
 * `services_dir`, `cluster.token_file`, `cluster.tls.*`) are relative to the directory of the
 * config file and are absolute in {@link Config}. Paths inside checks are kept as written:
 * checks may be distributed cluster-wide (`conclave checks apply`) and run on other hosts.
 */
import { accessSync, constants, readFileSync, statSync } from "node:fs";
import { isIPv4, isIPv6 } from "node:net";
import { dirname, resolve } from "node:path";
import { parseDocument } from "./yaml.ts";
import { z } from "./zod.ts";
import { formatDuration, parseDuration } from "./duration.ts";
import { EVENT_TYPES, type EventType } from "../coordinator/event-log.ts";

// ---------------------------------------------------------------------------------------------
// Vocabulary

// The event types of DESIGN.md's Events table (the values a handler's `on` may list) are
// defined once, with the event log.
export { EVENT_TYPES, type EventType } from "../coordinator/event-log.ts";
import { fromGossipcheck, isGossipcheckFormat } from "../member/checks/gossipcheck-format.ts";

/** The roles a node may have (`roles:`). */
export const ROLES = ["elector", "member"] as const;

/** A node role: `elector` (a Raft voter) or `member` (runs checks and services). */
export type Role = (typeof ROLES)[number];

/** The check types (`checks[].type`). */
export const CHECK_TYPES = [
  "file_exists",
  "file_contains",
  "process_running",
  "http",
  "tcp",
  "command",
] as const;

/** One check type. */
export type CheckType = (typeof CHECK_TYPES)[number];

/** `timing:` defaults, in milliseconds (DESIGN.md). */
export const DEFAULT_TIMING: TimingConfig = {
  heartbeatMs: 250,
  memberTimeoutMs: 1500,
  raftHeartbeatMs: 100,
  electionTimeoutMs: 1000,
  masterLeaseMs: 3000,
};

/** Defaults of a handler's optional fields. */
export const HANDLER_DEFAULTS = { timeoutMs: 30_000, retries: 3 } as const;

/** Defaults of a check's optional fields (`status` is the http check's expected status). */
export const CHECK_DEFAULTS = { intervalMs: 2000, timeoutMs: 2000, fall: 2, rise: 2, status: 200 } as const;

/** Shortest cluster token accepted, in characters. */
export const MIN_TOKEN_LENGTH = 16;

// ---------------------------------------------------------------------------------------------
// The typed config

/**
 * A command to run (a handler's `run`, a command check's `run`, a check's `action`).
 * Written as a string, it is a shell command line (`/bin/sh -c`), which covers a bare path
 * such as `/etc/conclave/handlers/dns-rfc2136`; written as a list, it is an argv run directly
 * with no shell.
 */
export type Run =
  | { readonly kind: "shell"; readonly command: string }
  | { readonly kind: "argv"; readonly argv: readonly string[] };

/** `cluster.tls`: mutual TLS between nodes. Absolute paths of files that existed at load. */
export interface TlsConfig {
  /** CA certificate(s) that peers' certificates must chain to. */
  readonly ca: string;
  /** This node's certificate. */
  readonly cert: string;
  /** This node's private key. */
  readonly key: string;
}

/** `cluster:`. */
export interface ClusterConfig {
  /**
   * The bootstrap voter set, elector name to `host:port`. Later changes go through
   * `conclave electors`; then this list is only where a node looks for the cluster.
   */
  readonly electors: Readonly<Record<string, string>>;
  /**
   * `cluster.join: true` marks a new elector that will be added to a running cluster with
   * `conclave electors add NAME ADDR`: it does not bootstrap a voter set from
   * `cluster.electors` but starts empty and waits to be added, and its name need not be
   * listed in `cluster.electors`. Only allowed on an elector; false when absent.
   */
  readonly join: boolean;
  /** Absolute path of `cluster.token_file`. */
  readonly tokenFile: string;
  /**
   * The shared secret read from `token_file` at load, whitespace trimmed. A secret: never log
   * a {@link Config} as it is.
   */
  readonly token: string;
  /** Mutual TLS, or null for plaintext. */
  readonly tls: TlsConfig | null;
}

/** `timing:`, all in milliseconds, all greater than zero. */
export interface TimingConfig {
  /** `heartbeat`: how often a member reports. */
  readonly heartbeatMs: number;
  /** `member_timeout`: no report for this long means member-down. Longer than heartbeat. */
  readonly memberTimeoutMs: number;
  /** `raft_heartbeat`: the Raft leader's heartbeat interval. */
  readonly raftHeartbeatMs: number;
  /** `election_timeout`: at least 3 × raft_heartbeat. */
  readonly electionTimeoutMs: number;
  /** `master_lease`: a master that cannot reach a quorum this long demotes itself. */
  readonly masterLeaseMs: number;
}

/** One entry of `handlers:`. */
export interface HandlerConfig {
  /** Unique among handlers; `CONCLAVE_HANDLER`. */
  readonly name: string;
  /** The event types that run it; non-empty, no repeats. */
  readonly on: readonly EventType[];
  /** What to run. */
  readonly run: Run;
  /** `timeout`: a run taking longer is killed and counts as failed. */
  readonly timeoutMs: number;
  /** Retries after a failed run (so at most retries + 1 runs), then handler-failed. */
  readonly retries: number;
}

/** Fields every check has. */
export interface CheckCommon {
  /** Unique among checks. */
  readonly name: string;
  /** `interval`: time between runs. */
  readonly intervalMs: number;
  /** `timeout`: a run taking longer fails. */
  readonly timeoutMs: number;
  /** Consecutive failures before the check counts as failing. */
  readonly fall: number;
  /** Consecutive passes before the check counts as passing. */
  readonly rise: number;
  /** Optional local remedy run when the check starts failing, or null. */
  readonly action: Run | null;
}

/** One entry of `checks:`, by type. */
export type CheckConfig = CheckCommon &
  (
    | { readonly type: "file_exists"; readonly path: string }
    | { readonly type: "file_contains"; readonly path: string; readonly contains: string }
    | {
        readonly type: "process_running";
        /** Executable path of the process, or null. */
        readonly path: string | null;
        /** Text its command line must contain, or null. At least one of the two is set. */
        readonly cmdline: string | null;
      }
    | {
        readonly type: "http";
        /** An http: or https: URL. */
        readonly url: string;
        /** Text the response body must contain, or null. */
        readonly expect: string | null;
        /** The status the response must have (default 200). */
        readonly status: number;
      }
    | { readonly type: "tcp"; readonly address: string }
    | { readonly type: "command"; readonly run: Run }
  );

/** A validated `conclave.yaml`. */
export interface Config {
  /** Absolute path of the file it came from. */
  readonly file: string;
  /** This node's unique name. */
  readonly name: string;
  /** Which roles this node has (at least one). */
  readonly roles: { readonly elector: boolean; readonly member: boolean };
  /** gRPC listen address, `host:port` (see {@link splitHostPort}). */
  readonly listen: string;
  /** How other nodes reach this node, `host:port`; `listen` when not given. */
  readonly advertise: string;
  /** Status page / metrics address, `host:port`, or null for none. */
  readonly http: string | null;
  /** Absolute data directory; always set on an elector, null when absent on a member. */
  readonly dataDir: string | null;
  /** `cluster:`. */
  readonly cluster: ClusterConfig;
  /** `timing:` with defaults filled in. */
  readonly timing: TimingConfig;
  /** `handlers:`, in file order (empty when absent). */
  readonly handlers: readonly HandlerConfig[];
  /** `checks:`, in file order (empty when absent). */
  readonly checks: readonly CheckConfig[];
  /** Absolute services directory, or null. */
  readonly servicesDir: string | null;
}

/** Each {@link Config} field (dotted camelCase path) and the YAML key it comes from. */
export const CONFIG_KEYS = {
  name: "name",
  roles: "roles",
  listen: "listen",
  advertise: "advertise",
  http: "http",
  dataDir: "data_dir",
  cluster: "cluster",
  "cluster.electors": "cluster.electors",
  "cluster.join": "cluster.join",
  "cluster.tokenFile": "cluster.token_file",
  "cluster.token": "cluster.token_file",
  "cluster.tls": "cluster.tls",
  "cluster.tls.ca": "cluster.tls.ca",
  "cluster.tls.cert": "cluster.tls.cert",
  "cluster.tls.key": "cluster.tls.key",
  timing: "timing",
  "timing.heartbeatMs": "timing.heartbeat",
  "timing.memberTimeoutMs": "timing.member_timeout",
  "timing.raftHeartbeatMs": "timing.raft_heartbeat",
  "timing.electionTimeoutMs": "timing.election_timeout",
  "timing.masterLeaseMs": "timing.master_lease",
  handlers: "handlers",
  checks: "checks",
  servicesDir: "services_dir",
} as const satisfies Record<string, string>;

/** Each {@link HandlerConfig} field and its YAML key inside `handlers[i]`. */
export const HANDLER_KEYS = {
  name: "name",
  on: "on",
  run: "run",
  timeoutMs: "timeout",
  retries: "retries",
} as const satisfies Record<string, string>;

/** Each {@link CheckConfig} field (of any type) and its YAML key inside `checks[i]`. */
export const CHECK_KEYS = {
  name: "name",
  type: "type",
  intervalMs: "interval",
  timeoutMs: "timeout",
  fall: "fall",
  rise: "rise",
  action: "action",
  path: "path",
  contains: "contains",
  cmdline: "cmdline",
  url: "url",
  expect: "expect",
  status: "status",
  address: "address",
  run: "run",
} as const satisfies Record<string, string>;

/** A config problem. The message is one line: `FILE: KEY: PROBLEM` (or `FILE: PROBLEM`). */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  /** The file (as given), or the source name passed to {@link parseChecks}. */
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

// ---------------------------------------------------------------------------------------------
// Addresses

/** A parsed `host:port`; an IPv6 host is given without its brackets. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9_-]*)(\.[A-Za-z0-9_]([A-Za-z0-9_-]*))*\.?$/;

/**
 * Split `host:port` (`10.0.0.1:7400`, `web1.internal:7400`, `[fd00::1]:7400`) into host
 * and port. The port must be 1-65535; an IPv6 address must be in brackets.
 * @throws Error saying what is wrong with the text
 */
export function splitHostPort(text: string): HostPort {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0 || text[end + 1] !== ":") {
      throw new Error(
        `${q(text)} is not host:port; write an IPv6 address as [ADDRESS]:PORT, e.g. [fd00::1]:7400`,
      );
    }
    host = text.slice(1, end);
    portText = text.slice(end + 2);
    if (!isIPv6(host)) throw new Error(`${q(host)} in brackets is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) throw new Error(`${q(text)} has no port; write host:port, e.g. 10.0.0.1:7400`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host === "") throw new Error(`${q(text)} has no host; write host:port, e.g. 10.0.0.1:7400`);
    if (host.includes(":")) {
      throw new Error(`${q(text)}: write an IPv6 address in brackets, e.g. [${host}]:${portText}`);
    }
    const looksNumeric = /^[\d.]+$/.test(host);
    if (looksNumeric ? !isIPv4(host) : !HOSTNAME.test(host)) {
      throw new Error(`${q(host)} is not a valid host name or IP address`);
    }
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(port >= 1 && port <= 65535)) throw new Error(`port ${q(portText)} must be a number from 1 to 65535`);
  return { host, port };
}

/** Whether a host (as {@link splitHostPort} returns it) is an any-address: 0.0.0.0 or ::. */
export function isWildcardHost(host: string): boolean {
  return host === "0.0.0.0" || (isIPv6(host) && /^[0:]+$/.test(host));
}

// ---------------------------------------------------------------------------------------------
// Schemas (the YAML's own shape, snake_case)

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const NAME_RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit, at most 63 characters";

function nameProblem(what: string, value: string): string | null {
  return NAME_RE.test(value) ? null : `${q(value)} is not a valid ${what} name: use ${NAME_RULE}`;
}

function nameSchema(what: string) {
  return z.string().superRefine((s, ctx) => {
    const p = nameProblem(what, s);
    if (p) ctx.addIssue({ code: "custom", message: p });
  });
}

const nonEmpty = z.string().min(1);

const hostPort = z.string().superRefine((s, ctx) => {
  try {
    splitHostPort(s);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
  }
});

/** A duration field: a string with a unit, greater than zero; `defaultMs` when absent. */
function duration(defaultMs: number) {
  return z
    .unknown()
    .optional()
    .transform((v, ctx): number => {
      if (v === undefined) return defaultMs;
      let problem: string;
      if (typeof v === "number") {
        problem = `bare number ${v} is not a duration; add a unit: ${v}ms, ${v}s or ${v}m`;
      } else if (typeof v === "string") {
        try {
          const ms = parseDuration(v);
          if (ms > 0) return ms;
          problem = `must be greater than 0, got ${q(v)}`;
        } catch (e) {
          problem = (e as Error).message;
        }
      } else if (v === null) {
        problem = `has no value; write a duration such as 250ms, or leave the key out for the default (${formatDuration(defaultMs)})`;
      } else {
        problem = `must be a duration such as 250ms, 1.5s or 2m, got ${describe(v)}`;
      }
      ctx.addIssue({ code: "custom", message: problem, input: v });
      return z.NEVER;
    });
}

/** A command: a non-blank string (shell) or a non-empty list of strings (argv). */
function commandSchema(required: boolean) {
  return z
    .unknown()
    .optional()
    .transform((v, ctx): Run | null => {
      const issue = (message: string, path: PropertyKey[] = []) => {
        ctx.addIssue({ code: "custom", message, path, input: v });
        return z.NEVER;
      };
      if (v === undefined) {
        return required ? issue("is required: a command line, or a list of arguments (argv)") : null;
      }
      if (typeof v === "string") {
        return v.trim() === "" ? issue("must not be empty") : { kind: "shell", command: v };
      }
      if (Array.isArray(v)) {
        if (v.length === 0) return issue("must not be empty: give the program and its arguments");
        const bad = v.findIndex((a) => typeof a !== "string");
        if (bad >= 0) return issue(`must be a string, got ${describe(v[bad])}`, [bad]);
        if ((v[0] as string).trim() === "") return issue("the program must not be empty", [0]);
        return { kind: "argv", argv: [...(v as string[])] };
      }
      return issue(`must be a command line (a string) or a list of arguments, got ${describe(v)}`);
    });
}

const tlsFile = z.string({
  error: (iss) =>
    iss.input === undefined ? "is required: cluster.tls needs ca, cert and key together" : undefined,
});

const tlsSchema = z.strictObject({ ca: tlsFile.min(1), cert: tlsFile.min(1), key: tlsFile.min(1) });

const clusterSchema = z.strictObject({
  electors: z.record(z.string(), hostPort, {
    error: (iss) =>
      iss.code === "invalid_type" && iss.input !== undefined
        ? `must be a mapping of elector name to host:port, got ${describe(iss.input)}`
        : undefined,
  }),
  join: z.boolean().optional(),
  token_file: nonEmpty,
  tls: tlsSchema.nullish(),
});

const timingSchema = z.strictObject({
  heartbeat: duration(DEFAULT_TIMING.heartbeatMs),
  member_timeout: duration(DEFAULT_TIMING.memberTimeoutMs),
  raft_heartbeat: duration(DEFAULT_TIMING.raftHeartbeatMs),
  election_timeout: duration(DEFAULT_TIMING.electionTimeoutMs),
  master_lease: duration(DEFAULT_TIMING.masterLeaseMs),
});

const handlerSchema = z
  .strictObject({
    name: nameSchema("handler"),
    on: z.array(z.enum(EVENT_TYPES)).min(1),
    run: commandSchema(true),
    timeout: duration(HANDLER_DEFAULTS.timeoutMs),
    retries: z.int().min(0).default(HANDLER_DEFAULTS.retries),
  })
  .transform((h): HandlerConfig => ({
    name: h.name,
    on: h.on,
    run: h.run as Run,
    timeoutMs: h.timeout,
    retries: h.retries,
  }));

const checkCommon = {
  name: nameSchema("check"),
  interval: duration(CHECK_DEFAULTS.intervalMs),
  timeout: duration(CHECK_DEFAULTS.timeoutMs),
  fall: z.int().min(1).default(CHECK_DEFAULTS.fall),
  rise: z.int().min(1).default(CHECK_DEFAULTS.rise),
  action: commandSchema(false),
};

const httpUrl = z.string().superRefine((s, ctx) => {
  let url: URL | null = null;
  try {
    url = new URL(s);
  } catch {
    // reported below
  }
  if (url === null || (url.protocol !== "http:" && url.protocol !== "https:")) {
    ctx.addIssue({ code: "custom", message: `must be an http:// or https:// URL, got ${q(s)}` });
  }
});

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
  z.strictObject({ ...checkCommon, type: z.literal("tcp"), address: hostPort }),
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

const configSchema = z.strictObject({
  name: nameSchema("node"),
  roles: z.array(z.enum(ROLES)).min(1),
  listen: hostPort,
  advertise: hostPort.nullish(),
  http: hostPort.nullish(),
  data_dir: nonEmpty.nullish(),
  cluster: clusterSchema,
  timing: timingSchema.nullish(),
  handlers: z.array(handlerSchema).nullish(),
  checks: z.array(checkSchema).nullish(),
  services_dir: nonEmpty.nullish(),
});

type RawConfig = z.output<typeof configSchema>;

// ---------------------------------------------------------------------------------------------
// Entry points

/**
 * Read, parse (YAML, or JSON, which YAML includes) and validate a config file, and read the
 * files it names (the token; the TLS files must exist).
 * @param file path of the file; it names the file in error messages as given
 * @throws ConfigError on the first problem, including an unreadable file or a YAML syntax
 *   error (which names the line)
 */
export function loadConfig(file: string): Config {
  return validateConfig(readYaml(file), file);
}

/**
 * Validate an already-parsed config (e.g. from a test or an embedding program). Relative
 * paths are resolved against the directory of `file`, and the token and TLS files are read
 * or checked just as {@link loadConfig} does.
 * @param raw the parsed YAML/JSON document
 * @param file the file name to resolve paths against and to name in error messages
 * @throws ConfigError on the first problem
 */
export function validateConfig(raw: unknown, file: string): Config {
  if (raw === null || raw === undefined) {
    throw new ConfigError(
      file,
      null,
      "the file is empty; it must hold the node's settings (name, roles, ...)",
    );
  }
  if (!isRecord(raw)) {
    throw new ConfigError(
      file,
      null,
      `must hold a mapping of settings (name: ..., roles: ...), got ${describe(raw)}`,
    );
  }
  const parsed = parseWith(configSchema, raw, file, []);
  return finish(parsed, raw, file);
}

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

/**
 * Read and parse a checks file (YAML or JSON) and validate it with {@link parseChecks}.
 * @throws ConfigError on the first problem, including an unreadable file or a YAML syntax error
 */
export function loadChecks(file: string): CheckConfig[] {
  return parseChecks(readChecksFile(file), file);
}

/**
 * Read a checks file as the list of definitions in DESIGN.md's form (YAML/JSON list, a mapping
 * with `checks:`, or gossipcheck's JSON, converted), not yet validated.
 * @throws ConfigError for an unreadable file or a YAML syntax error
 */
export function readChecksFile(file: string): unknown {
  const raw = readYaml(file);
  return isGossipcheckFormat(raw) ? fromGossipcheck(raw, file) : raw;
}

// ---------------------------------------------------------------------------------------------
// Reading YAML

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(file, null, `cannot read the file: ${fsReason(e)}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const what = (err.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?\s*$/, "");
    const where = pos ? `line ${pos.line}, column ${pos.col}: ` : "";
    throw new ConfigError(file, null, `${where}invalid YAML: ${what}`, pos?.line ?? null);
  }
  try {
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(file, null, `invalid YAML: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Zod issues to one ConfigError

type Path = readonly PropertyKey[];

/** Parse with zod; on failure throw a ConfigError for the issue that comes first in the file. */
function parseWith<S extends z.ZodType>(schema: S, raw: unknown, file: string, prefix: Path): z.output<S> {
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

const EXPECTED: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  record: "a mapping",
};

function oneOf(options: readonly string[], got: unknown): string {
  const near = typeof got === "string" ? closest(got, options) : null;
  const hint = near ? ` (did you mean ${near}?)` : "";
  return `must be one of ${options.join(", ")}, got ${describe(got)}${hint}`;
}

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

function compareKeys(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!;
  }
  return a.length - b.length;
}

/** `["handlers", 1, "on", 0]` to `handlers[1].on[0]`; odd keys are quoted: `electors["a b"]`. */
function formatPath(path: Path): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else if (typeof seg === "string" && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(seg))
      out += out === "" ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Rules across fields, and the files the config names

function finish(p: RawConfig, raw: Record<string, unknown>, file: string): Config {
  const fail = (key: string, problem: string): never => {
    throw new ConfigError(file, key, problem);
  };
  const base = dirname(resolve(file));

  // roles
  const seen = new Set<Role>();
  p.roles.forEach((r, i) => {
    if (seen.has(r)) fail(`roles[${i}]`, `${q(r)} is listed twice`);
    seen.add(r);
  });
  const roles = { elector: seen.has("elector"), member: seen.has("member") };

  // listen / advertise
  const listenHost = splitHostPort(p.listen).host;
  if (p.advertise != null) {
    if (isWildcardHost(splitHostPort(p.advertise).host)) {
      fail(CONFIG_KEYS.advertise, `must be an address other nodes can reach, not ${q(p.advertise)}`);
    }
  } else if (isWildcardHost(listenHost)) {
    fail(
      CONFIG_KEYS.advertise,
      `is required when listen is on all interfaces (${p.listen}): give the address other nodes reach this node at, e.g. 10.0.0.1:${splitHostPort(p.listen).port}`,
    );
  }

  // data_dir
  if (roles.elector && p.data_dir == null) {
    fail(CONFIG_KEYS.dataDir, "is required on an elector: it holds the replicated state");
  }

  // cluster.electors and cluster.join
  const electors = p.cluster.electors;
  const names = Object.keys(electors);
  if (names.length === 0)
    fail(CONFIG_KEYS["cluster.electors"], "must list at least one elector (NAME: HOST:PORT)");
  const byAddress = new Map<string, string>();
  for (const n of names) {
    const key = formatPath(["cluster", "electors", n]);
    const problem = nameProblem("elector", n);
    if (problem) fail(key, problem);
    const address = electors[n]!;
    if (isWildcardHost(splitHostPort(address).host)) {
      fail(key, `must be an address other nodes can reach, not ${q(address)}`);
    }
    const other = byAddress.get(address);
    if (other !== undefined) fail(key, `has the same address as ${other} (${address})`);
    byAddress.set(address, n);
  }
  const join = p.cluster.join ?? false;
  if (join && !roles.elector) {
    fail(CONFIG_KEYS["cluster.join"], "is only for an elector; this node's roles do not include elector");
  }
  if (roles.elector && !join && !Object.hasOwn(electors, p.name)) {
    fail(
      CONFIG_KEYS.name,
      `${q(p.name)} is not one of cluster.electors (${names.join(", ")}); list it there, or set cluster.join: true for a new elector to be added with \`conclave electors add\``,
    );
  }

  // timing
  const timing: TimingConfig = p.timing
    ? {
        heartbeatMs: p.timing.heartbeat,
        memberTimeoutMs: p.timing.member_timeout,
        raftHeartbeatMs: p.timing.raft_heartbeat,
        electionTimeoutMs: p.timing.election_timeout,
        masterLeaseMs: p.timing.master_lease,
      }
    : DEFAULT_TIMING;
  const rawTiming = isRecord(raw.timing) ? raw.timing : {};
  const written = (k: string) => Object.hasOwn(rawTiming, k);
  const d = formatDuration;
  if (timing.memberTimeoutMs <= timing.heartbeatMs) {
    if (written("member_timeout")) {
      fail(
        CONFIG_KEYS["timing.memberTimeoutMs"],
        `must be longer than heartbeat (${d(timing.heartbeatMs)}), got ${d(timing.memberTimeoutMs)}`,
      );
    }
    fail(
      CONFIG_KEYS["timing.heartbeatMs"],
      `must be shorter than member_timeout (${d(timing.memberTimeoutMs)}, the default), got ${d(timing.heartbeatMs)}`,
    );
  }
  if (timing.electionTimeoutMs < 3 * timing.raftHeartbeatMs) {
    if (written("election_timeout")) {
      fail(
        CONFIG_KEYS["timing.electionTimeoutMs"],
        `must be at least 3 × raft_heartbeat (${d(3 * timing.raftHeartbeatMs)}), got ${d(timing.electionTimeoutMs)}`,
      );
    }
    fail(
      CONFIG_KEYS["timing.raftHeartbeatMs"],
      `must be at most election_timeout / 3 (election_timeout is ${d(timing.electionTimeoutMs)}, the default), got ${d(timing.raftHeartbeatMs)}`,
    );
  }

  // handlers and checks
  const handlers = p.handlers ?? [];
  uniqueNames(handlers, "handler", "handlers", file);
  handlers.forEach((h, i) => {
    const events = new Set<EventType>();
    h.on.forEach((e, j) => {
      if (events.has(e)) fail(`handlers[${i}].on[${j}]`, `${q(e)} is listed twice`);
      events.add(e);
    });
  });
  const checks = p.checks ?? [];
  uniqueNames(checks, "check", "checks", file);

  // the files the config names: token, TLS
  const tokenFile = resolve(base, p.cluster.token_file);
  const token = readToken(tokenFile, (problem) => fail(CONFIG_KEYS["cluster.tokenFile"], problem));
  let tls: TlsConfig | null = null;
  if (p.cluster.tls) {
    const t = p.cluster.tls;
    const existing = (key: "ca" | "cert" | "key", path: string): string => {
      const abs = resolve(base, path);
      const problem = unreadableFile(abs);
      if (problem) fail(CONFIG_KEYS[`cluster.tls.${key}`], problem);
      return abs;
    };
    tls = { ca: existing("ca", t.ca), cert: existing("cert", t.cert), key: existing("key", t.key) };
  }

  return {
    file: resolve(file),
    name: p.name,
    roles,
    listen: p.listen,
    advertise: p.advertise ?? p.listen,
    http: p.http ?? null,
    dataDir: p.data_dir == null ? null : resolve(base, p.data_dir),
    cluster: { electors: { ...electors }, join, tokenFile, token, tls },
    timing,
    handlers,
    checks,
    servicesDir: p.services_dir == null ? null : resolve(base, p.services_dir),
  };
}

function uniqueNames(items: readonly { name: string }[], what: string, key: string, file: string): void {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    const j = first.get(item.name);
    if (j !== undefined) {
      throw new ConfigError(
        file,
        `${key}[${i}].name`,
        `duplicate ${what} name ${q(item.name)} (also ${key}[${j}])`,
      );
    }
    first.set(item.name, i);
  });
}

function readToken(path: string, fail: (problem: string) => never): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    return fail(`cannot read ${path}: ${fsReason(e)}`);
  }
  const token = text.trim();
  if (token === "") fail(`the token file ${path} is empty`);
  if (!/^[\x21-\x7e]+$/.test(token)) {
    fail(
      `the token in ${path} must be printable ASCII with no spaces or line breaks (it is sent as gRPC metadata)`,
    );
  }
  if (token.length < MIN_TOKEN_LENGTH) {
    fail(`the token in ${path} is ${token.length} characters; at least ${MIN_TOKEN_LENGTH} are required`);
  }
  return token;
}

function unreadableFile(path: string): string | null {
  try {
    if (!statSync(path).isFile()) return `${path} is not a regular file`;
    accessSync(path, constants.R_OK);
    return null;
  } catch (e) {
    return `cannot read ${path}: ${fsReason(e)}`;
  }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function q(s: string): string {
  return JSON.stringify(s);
}

/** A value as it appears in a message: strings quoted (and shortened), others by kind. */
function describe(v: unknown): string {
  if (typeof v === "string") return q(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (v === null || v === undefined) return "nothing";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return typeof v;
}

function fsReason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "it is a directory";
    case "ENOTDIR":
      return "a parent is not a directory";
    default:
      return code ?? (e as Error).message;
  }
}
