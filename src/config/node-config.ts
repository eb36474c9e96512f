/**
 * The typed node config, {@link Config}: what `conclave.yaml` (docs/config.md) becomes
 * once loaded (`load-config.ts`), and the defaults of its optional fields.
 *
 * Keys are camelCase and durations are whole milliseconds with an `Ms` suffix; {@link
 * CONFIG_KEYS} and {@link CHECK_KEYS} map each field back to its YAML key for messages about
 * it. Relative paths in the file (`data_dir`, `services_dir`, `cluster.token_file`,
 * `cluster.tls.*`) are absolute here, resolved against the config file's directory. Paths inside
 * checks are kept as written: checks may be distributed cluster-wide (`conclave checks apply`)
 * and run on other hosts.
 */
import type { AuthKeys } from "../auth/auth-keys.ts";
import type { NodeCredentials } from "../auth/node-credentials.ts";
import type { EventType } from "../contract/events.ts";

/** The roles a node may have (`roles:`). */
export const ROLES = ["elector", "member"] as const;

/** A node role: `elector` (a Raft voter) or `member` (runs checks and services). */
export type Role = (typeof ROLES)[number];

/** `timing:` defaults, in milliseconds (docs/config.md). */
export const DEFAULT_TIMING: TimingConfig = {
  heartbeatMs: 250,
  memberTimeoutMs: 1500,
  raftHeartbeatMs: 100,
  electionTimeoutMs: 1000,
  masterLeaseMs: 3000,
};

/** Defaults of a handler's optional fields. */
export const HANDLER_DEFAULTS = { timeoutMs: 30_000, retries: 3, concurrency: 1, mode: "each" } as const;

/** The most runs of one handler at once (`concurrency`). */
export const MAX_HANDLER_CONCURRENCY = 64;

/**
 * How a handler's waiting events become runs: `each`, one run per event; `latest`, one run for
 * every event waiting, with the newest committed view (a reconciler).
 */
export const HANDLER_MODES = ["each", "latest"] as const;

/** One of {@link HANDLER_MODES}. */
export type HandlerMode = (typeof HANDLER_MODES)[number];

/** Defaults of a check's optional fields (`status` is the http check's expected status). */
export const CHECK_DEFAULTS = { intervalMs: 2000, timeoutMs: 2000, fall: 2, rise: 2, status: 200 } as const;

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

/** `cluster.auth`: absolute paths of the key files, and the keys (secrets) read at load. */
export interface AuthConfig {
  readonly peerKeyFile: string;
  readonly membersKeyFile: string;
  readonly operatorsKeyFile: string;
  readonly keys: AuthKeys;
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
  /** Absolute path of `cluster.token_file`, or null when not set (an elector with `auth`). */
  readonly tokenFile: string | null;
  /**
   * The secret read from `token_file` at load, whitespace trimmed: the legacy shared token, or
   * a member-only node's own member token; null when not set. A secret: never log a
   * {@link Config} as it is.
   */
  readonly token: string | null;
  /** `cluster.auth`: the key files of role tokens and the keys read from them, or null. */
  readonly auth: AuthConfig | null;
  /** What this node presents in each role and how its server authenticates (src/auth/). */
  readonly credentials: NodeCredentials;
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
  /** At most this many runs at once, started in commit order (1 for `mode: latest`). */
  readonly concurrency: number;
  /** `mode`: one run per event, or one run for all the events waiting. */
  readonly mode: HandlerMode;
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
  /** gRPC listen address, `host:port` (see `splitHostPort` in `host-port.ts`). */
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
  /**
   * `allow_remote_commands`: a member runs cluster-wide `command` checks and `action`s (from
   * `conclave checks apply`); false when absent, and they are refused (docs/checks.md).
   */
  readonly allowRemoteCommands: boolean;
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
  "cluster.auth": "cluster.auth",
  "cluster.auth.peerKeyFile": "cluster.auth.peer_key_file",
  "cluster.auth.membersKeyFile": "cluster.auth.members_key_file",
  "cluster.auth.operatorsKeyFile": "cluster.auth.operators_key_file",
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
  allowRemoteCommands: "allow_remote_commands",
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
