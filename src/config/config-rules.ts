/**
 * The rules of `conclave.yaml` that span fields, applied to what the schema parsed
 * (`config-schema.ts`), and the files the config names (the token, the TLS files): the step
 * from {@link RawConfig} to the typed {@link Config}.
 *
 * The rules run in the order of the file's sections (roles, addresses, data_dir, cluster,
 * timing, handlers, checks, then the files), and the first broken one throws: like the schema's
 * problems, an operator fixing errors top to bottom never meets a later one first.
 */
import { accessSync, constants, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fsReason } from "../fs-reason.ts";
import type { EventType } from "../contract/events.ts";
import { KeyFileError, readKeyFile } from "../auth/auth-keys.ts";
import { resolveCredentials } from "../auth/node-credentials.ts";
import { readTokenFile, TokenFileError } from "../rpc/cluster-token.ts";
import { ConfigError, quote } from "./config-error.ts";
import type { RawConfig } from "./config-schema.ts";
import { formatDuration } from "./duration.ts";
import { isWildcardHost, splitHostPort } from "./host-port.ts";
import { isRecord } from "./is-record.ts";
import {
  type AuthConfig,
  type ClusterConfig,
  CONFIG_KEYS,
  type Config,
  DEFAULT_TIMING,
  type HandlerConfig,
  type Role,
  type TimingConfig,
  type TlsConfig,
} from "./node-config.ts";
import { nameProblem, uniqueNames } from "./schema-fields.ts";
import { formatPath } from "./zod-problems.ts";

/** Report a broken rule at `key` (YAML spelling); never returns. */
type Fail = (key: string, problem: string) => never;

/**
 * Apply every rule across fields to a parsed config and read the files it names.
 * @param raw the document as written, to tell a value written in the file from a default
 * @param file the config file: named in errors, and relative paths resolve against its directory
 * @throws ConfigError on the first broken rule
 */
export function applyConfigRules(p: RawConfig, raw: Record<string, unknown>, file: string): Config {
  const fail: Fail = (key, problem) => {
    throw new ConfigError(file, key, problem);
  };
  const base = dirname(resolve(file));
  const roles = checkRoles(p, fail);
  checkAddresses(p, fail);
  if (roles.elector && p.data_dir == null) {
    fail(CONFIG_KEYS.dataDir, "is required on an elector: it holds the replicated state");
  }
  const join = checkElectors(p, roles, fail);
  const timing = checkTiming(p, raw, fail);
  const handlers = checkHandlers(p, file, fail);
  const checks = p.checks ?? [];
  uniqueNames(checks, "check", "checks", file);
  const { tokenFile, token } = readToken(p, base, fail);
  const auth = readAuthKeys(p, base, fail);
  const credentials = resolveCredentials({ name: p.name, roles, token, keys: auth?.keys ?? null });
  if ("problem" in credentials) fail(credentials.key, credentials.problem);
  const tls = checkTlsFiles(p, base, fail);
  return {
    file: resolve(file),
    name: p.name,
    roles,
    listen: p.listen,
    advertise: p.advertise ?? p.listen,
    http: p.http ?? null,
    dataDir: p.data_dir == null ? null : resolve(base, p.data_dir),
    cluster: { electors: { ...p.cluster.electors }, join, tokenFile, token, auth, credentials, tls },
    timing,
    handlers,
    checks,
    servicesDir: p.services_dir == null ? null : resolve(base, p.services_dir),
    allowRemoteCommands: p.allow_remote_commands ?? false,
  };
}

/** `roles:` lists each role at most once; the set of roles. */
function checkRoles(p: RawConfig, fail: Fail): Config["roles"] {
  const seen = new Set<Role>();
  p.roles.forEach((r, i) => {
    if (seen.has(r)) fail(`roles[${i}]`, `${quote(r)} is listed twice`);
    seen.add(r);
  });
  return { elector: seen.has("elector"), member: seen.has("member") };
}

/**
 * Other nodes must be able to reach `advertise`: it is never a wildcard, and it is required
 * when `listen` is one (the schema has already checked both are `host:port`).
 */
function checkAddresses(p: RawConfig, fail: Fail): void {
  const listen = splitHostPort(p.listen);
  if (p.advertise != null) {
    if (isWildcardHost(splitHostPort(p.advertise).host)) {
      fail(CONFIG_KEYS.advertise, `must be an address other nodes can reach, not ${quote(p.advertise)}`);
    }
  } else if (isWildcardHost(listen.host)) {
    fail(
      CONFIG_KEYS.advertise,
      `is required when listen is on all interfaces (${p.listen}): give the address other nodes reach this node at, e.g. 10.0.0.1:${listen.port}`,
    );
  }
}

/**
 * `cluster.electors` is a non-empty map of valid names to distinct, reachable addresses; an
 * elector is one of them unless it joins (`cluster.join`, which only an elector may set).
 * @returns `cluster.join`, false when absent
 */
function checkElectors(p: RawConfig, roles: Config["roles"], fail: Fail): ClusterConfig["join"] {
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
      fail(key, `must be an address other nodes can reach, not ${quote(address)}`);
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
      `${quote(p.name)} is not one of cluster.electors (${names.join(", ")}); list it there, or set cluster.join: true for a new elector to be added with \`conclave electors add\``,
    );
  }
  return join;
}

/**
 * `timing:` with defaults, where member_timeout > heartbeat (a member must get to report
 * before it is declared down) and election_timeout ≥ 3 × raft_heartbeat (a follower must miss
 * several heartbeats before it campaigns). A broken pair names member_timeout (election_timeout)
 * when the file sets it, and otherwise heartbeat (raft_heartbeat), which then clashes with the
 * other's default.
 */
function checkTiming(p: RawConfig, raw: Record<string, unknown>, fail: Fail): TimingConfig {
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
  return timing;
}

/** Handler names are unique, and a handler lists each event type at most once. */
function checkHandlers(p: RawConfig, file: string, fail: Fail): readonly HandlerConfig[] {
  const handlers = p.handlers ?? [];
  uniqueNames(handlers, "handler", "handlers", file);
  handlers.forEach((h, i) => {
    const events = new Set<EventType>();
    h.on.forEach((e, j) => {
      if (events.has(e)) fail(`handlers[${i}].on[${j}]`, `${quote(e)} is listed twice`);
      events.add(e);
    });
  });
  return handlers;
}

/** Read `cluster.token_file`, when set, by the one token rule (`rpc/cluster-token.ts`). */
function readToken(p: RawConfig, base: string, fail: Fail): Pick<ClusterConfig, "tokenFile" | "token"> {
  if (p.cluster.token_file === undefined) return { tokenFile: null, token: null };
  const tokenFile = resolve(base, p.cluster.token_file);
  try {
    return { tokenFile, token: readTokenFile(tokenFile) };
  } catch (e) {
    if (e instanceof TokenFileError) fail(CONFIG_KEYS["cluster.tokenFile"], e.problem);
    throw e;
  }
}

/** `cluster.auth`, when given: its three key files, read by the key rule (`auth/auth-keys.ts`). */
function readAuthKeys(p: RawConfig, base: string, fail: Fail): AuthConfig | null {
  const a = p.cluster.auth;
  if (!a) return null;
  const read = (key: "peerKeyFile" | "membersKeyFile" | "operatorsKeyFile", path: string) => {
    const abs = resolve(base, path);
    try {
      return { abs, key: readKeyFile(abs) };
    } catch (e) {
      if (e instanceof KeyFileError) fail(CONFIG_KEYS[`cluster.auth.${key}`], e.problem);
      throw e;
    }
  };
  const peer = read("peerKeyFile", a.peer_key_file);
  const members = read("membersKeyFile", a.members_key_file);
  const operators = read("operatorsKeyFile", a.operators_key_file);
  return {
    peerKeyFile: peer.abs,
    membersKeyFile: members.abs,
    operatorsKeyFile: operators.abs,
    keys: { peer: peer.key, members: members.key, operators: operators.key },
  };
}

/** `cluster.tls`, when given: its three files exist and are readable; their absolute paths. */
function checkTlsFiles(p: RawConfig, base: string, fail: Fail): TlsConfig | null {
  const t = p.cluster.tls;
  if (!t) return null;
  const existing = (key: "ca" | "cert" | "key", path: string): string => {
    const abs = resolve(base, path);
    const problem = unreadableFile(abs);
    if (problem) fail(CONFIG_KEYS[`cluster.tls.${key}`], problem);
    return abs;
  };
  return { ca: existing("ca", t.ca), cert: existing("cert", t.cert), key: existing("key", t.key) };
}

/** Why `path` is not a readable regular file, or null when it is. */
function unreadableFile(path: string): string | null {
  try {
    if (!statSync(path).isFile()) return `${path} is not a regular file`;
    accessSync(path, constants.R_OK);
    return null;
  } catch (e) {
    return `cannot read ${path}: ${fsReason(e)}`;
  }
}
