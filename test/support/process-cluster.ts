/**
 * Real elector processes on 127.0.0.1 for multi-process tests and benchmarks: writes a
 * config, token file and data dir per node in a temp folder, starts `conclave agent` as a
 * child process, and kills, restarts and inspects them.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AuthKeys, keyForRole, readKeyFile } from "../../src/auth/auth-keys.ts";
import type { AuthRole } from "../../src/auth/auth-role.ts";
import { initKeyDir, type KeyDir } from "../../src/auth/key-dir.ts";
import { mintRoleToken } from "../../src/auth/role-token.ts";
import { connectControl } from "../../src/control/control-client.ts";
import type { ControlApi, StatusResponse } from "../../src/control/control-types.ts";
import { freePort } from "../../src/dev/free-port.ts";
import { type AgentRuntime, conclaveArgv, defaultRuntime } from "./conclave-entry.ts";

export { freePort };

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** How to run the agent: from TypeScript sources (tests) or from the build (benchmarks). */
export type { AgentRuntime };

/** One node of the cluster. */
export interface ProcNode {
  readonly name: string;
  readonly addr: string;
  readonly configFile: string;
  readonly dataDir: string;
  proc: ChildProcess | null;
  /** Everything the process wrote to stderr and stdout (pino logs), for diagnosing failures. */
  output: string;
}

/** Options of {@link ProcessCluster.create}. */
export interface ProcessClusterOptions {
  names: readonly string[];
  runtime?: AgentRuntime;
  /** Raft tick and election timeout (defaults: the documented 100 ms and 1000 ms). */
  raftHeartbeat?: string;
  electionTimeout?: string;
  logLevel?: string;
  /** Entries between snapshots (CONCLAVE_SNAPSHOT_ENTRIES); the agent's default when absent. */
  snapshotEntries?: number;
  /** Member-only nodes (roles: [member]), started by startAll after the electors. */
  members?: readonly string[];
  /**
   * The host a member listens on, and so the address it advertises (`host:port`), by member
   * name; 127.0.0.1 when absent. E.g. 127.0.0.11 to give members distinct loopback addresses.
   */
  memberHosts?: Readonly<Record<string, string>>;
  /** `timing.heartbeat` and `timing.member_timeout` (defaults: the documented 250 ms and 1500 ms). */
  heartbeat?: string;
  memberTimeout?: string;
  /** YAML appended to every elector's config (e.g. a `handlers:` section). */
  electorExtra?: string;
  /** YAML appended to one member's config (e.g. `services_dir:` or `checks:`), by name. */
  memberExtra?: Record<string, string>;
  /**
   * Node.js flags by role (e.g. MEMBER_V8_FLAGS and ELECTOR_V8_FLAGS, as deployed); none by
   * default. A node with the elector role gets `elector`, a member-only node `member`.
   */
  nodeFlags?: { readonly elector?: readonly string[]; readonly member?: readonly string[] };
  /** YAML appended to one node's config (elector or member), by name: e.g. its own `http:`. */
  nodeExtra?: Record<string, string>;
  /** `timing.master_lease` (default: the documented 3s). */
  masterLease?: string;
  /**
   * The host each node (elector or member) listens on, by name; 127.0.0.1 when absent (with
   * `memberHosts` taking precedence for members). For clusters spread over network namespaces.
   */
  nodeHosts?: Readonly<Record<string, string>>;
  /** A command prefix per node, e.g. `["ip", "netns", "exec", "ns1"]` to run it in a namespace. */
  spawnPrefix?: Readonly<Record<string, readonly string[]>>;
  /** Mutual TLS: per node certificate files, and the CA (written as cluster.tls). */
  tls?: { ca: string; nodes: Record<string, { cert: string; key: string }> };
  /**
   * Role tokens instead of the legacy shared token (docs/security.md): the keys are made with
   * `initKeyDir` in the cluster's folder, electors get `cluster.auth`, each member-only node
   * its own member token in `token_file`, and {@link ProcessCluster.token} / `tokenFile` are
   * the operator `admin`'s token. Off by default.
   */
  roleTokens?: boolean;
}

/** A cluster of elector processes. */
export class ProcessCluster {
  readonly dir: string;
  /** The token clients present: the shared token, or with `roleTokens` operator admin's. */
  readonly tokenFile: string;
  readonly token: string;
  /** With `roleTokens`: the key files and the keys (to mint any token a test needs). */
  readonly keys: (KeyDir & { readonly keys: AuthKeys }) | null = null;
  readonly nodes = new Map<string, ProcNode>();
  private readonly founders: Record<string, string> = {};

  private constructor(private readonly o: ProcessClusterOptions & { electorExtra?: string }) {
    this.dir = mkdtempSync(join(tmpdir(), "conclave-test-"));
    if (o.roleTokens) {
      const made = initKeyDir(join(this.dir, "keys"), "admin");
      this.keys = {
        ...made,
        keys: {
          peer: readKeyFile(made.peerKeyFile),
          members: readKeyFile(made.membersKeyFile),
          operators: readKeyFile(made.operatorsKeyFile),
        },
      };
      this.tokenFile = made.operatorTokenFile;
      this.token = readFileSync(made.operatorTokenFile, "utf8").trim();
    } else {
      this.token = "test-token-0123456789abcdef";
      this.tokenFile = join(this.dir, "token");
      writeFileSync(this.tokenFile, `${this.token}\n`, { mode: 0o600 });
    }
  }

  /** With `roleTokens`: the token of `name` in `role`, made with the cluster's keys. */
  roleToken(role: AuthRole, name: string): string {
    if (!this.keys) throw new Error("roleToken needs a cluster made with roleTokens: true");
    return mintRoleToken(keyForRole(this.keys.keys, role), role, name);
  }

  /** The `cluster:` lines that say how node `name` (with `roles`) authenticates. */
  private credentialLines(name: string, roles: readonly string[]): string[] {
    if (!this.keys) return [`  token_file: ${this.tokenFile}`];
    if (roles.includes("elector")) {
      return [
        "  auth:",
        `    peer_key_file: ${this.keys.peerKeyFile}`,
        `    members_key_file: ${this.keys.membersKeyFile}`,
        `    operators_key_file: ${this.keys.operatorsKeyFile}`,
      ];
    }
    const file = join(this.dir, name, "member.token");
    writeFileSync(file, `${this.roleToken("member", name)}\n`, { mode: 0o600 });
    return [`  token_file: ${file}`];
  }

  /** Allocate ports and write configs for the founding electors. Nothing is started. */
  static async create(o: ProcessClusterOptions): Promise<ProcessCluster> {
    const c = new ProcessCluster(o);
    for (const name of o.names)
      c.founders[name] = `${o.nodeHosts?.[name] ?? "127.0.0.1"}:${await freePort()}`;
    for (const name of o.names) c.writeNode(name, c.founders[name]!, false);
    for (const name of o.members ?? []) {
      const host = o.memberHosts?.[name] ?? o.nodeHosts?.[name] ?? "127.0.0.1";
      c.writeNode(name, `${host}:${await freePort()}`, false, ["member"]);
    }
    return c;
  }

  private writeNode(
    name: string,
    addr: string,
    join: boolean,
    roles: readonly string[] = ["elector"],
  ): ProcNode {
    const dataDir = join_(this.dir, name, "data");
    mkdirSync(join_(this.dir, name), { recursive: true });
    const configFile = join_(this.dir, name, "conclave.yaml");
    const electors = Object.entries(this.founders)
      .map(([n, a]) => `    ${n}: ${a}`)
      .join("\n");
    writeFileSync(
      configFile,
      [
        `name: ${name}`,
        `roles: [${roles.join(", ")}]`,
        `listen: ${addr}`,
        ...(roles.includes("elector") ? [`data_dir: ${dataDir}`] : []),
        "cluster:",
        "  electors:",
        electors,
        ...this.credentialLines(name, roles),
        ...(join ? ["  join: true"] : []),
        ...(this.o.tls?.nodes[name]
          ? [
              `  tls: { ca: ${this.o.tls.ca}, cert: ${this.o.tls.nodes[name].cert}, key: ${this.o.tls.nodes[name].key} }`,
            ]
          : []),
        "timing:",
        `  raft_heartbeat: ${this.o.raftHeartbeat ?? "100ms"}`,
        `  heartbeat: ${this.o.heartbeat ?? "250ms"}`,
        `  member_timeout: ${this.o.memberTimeout ?? "1500ms"}`,
        `  election_timeout: ${this.o.electionTimeout ?? "1000ms"}`,
        ...(this.o.masterLease ? [`  master_lease: ${this.o.masterLease}`] : []),
        ...(roles.includes("elector") && this.o.electorExtra ? [this.o.electorExtra] : []),
        ...(roles.includes("member") && this.o.memberExtra?.[name] ? [this.o.memberExtra[name]] : []),
        ...(this.o.nodeExtra?.[name] ? [this.o.nodeExtra[name]] : []),
        "",
      ].join("\n"),
    );
    const node: ProcNode = { name, addr, configFile, dataDir, proc: null, output: "" };
    this.nodes.set(name, node);
    return node;
  }

  /** Set YAML appended to every elector's config and rewrite their configs (before start). */
  setElectorExtra(yaml: string): void {
    this.o.electorExtra = yaml;
    for (const name of this.o.names) this.writeNode(name, this.founders[name]!, false);
  }

  /** Set YAML appended to one member's config and rewrite it (before it starts). */
  setMemberExtra(name: string, yaml: string): void {
    this.o.memberExtra = { ...this.o.memberExtra, [name]: yaml };
    const node = this.nodes.get(name)!;
    this.writeNode(name, node.addr, false, ["member"]);
  }

  /** Write the config of a new elector that joins the running cluster later. */
  async addJoiner(name: string): Promise<ProcNode> {
    return this.writeNode(name, `127.0.0.1:${await freePort()}`, true);
  }

  /** The command that runs `conclave ARGS` (with `nodeFlags` for node itself). */
  command(args: readonly string[], nodeFlags: readonly string[] = []): { cmd: string; argv: string[] } {
    return { cmd: process.execPath, argv: conclaveArgv(args, nodeFlags, this.o.runtime ?? defaultRuntime()) };
  }

  /** Start a node's agent process (its data dir is kept across restarts). */
  start(name: string): ProcNode {
    const node = this.nodes.get(name)!;
    const memberOnly = this.o.members?.includes(name) ?? false;
    const { cmd: bin, argv: args } = this.command(
      ["agent", "--config", node.configFile],
      (memberOnly ? this.o.nodeFlags?.member : this.o.nodeFlags?.elector) ?? [],
    );
    const prefix = this.o.spawnPrefix?.[name] ?? [];
    const [cmd, argv] = prefix.length > 0 ? [prefix[0]!, [...prefix.slice(1), bin, ...args]] : [bin, args];
    const proc = spawn(cmd, argv, {
      cwd: ROOT,
      env: {
        ...process.env,
        CONCLAVE_LOG_LEVEL: this.o.logLevel ?? "info",
        CONCLAVE_EXIT_WITH_PARENT: "1",
        ...(this.o.snapshotEntries ? { CONCLAVE_SNAPSHOT_ENTRIES: String(this.o.snapshotEntries) } : {}),
      },
      // A stdin pipe plus CONCLAVE_EXIT_WITH_PARENT: if the test process dies (a timeout, a
      // kill), the agents see their stdin close and stop, instead of lingering.
      stdio: ["pipe", "pipe", "pipe"],
    });
    node.output = "";
    proc.stdout!.on("data", (d: Buffer) => {
      node.output += d.toString();
    });
    proc.stderr!.on("data", (d: Buffer) => {
      node.output += d.toString();
    });
    node.proc = proc;
    return node;
  }

  /** Start every founding elector, then every member. */
  startAll(): void {
    for (const name of this.o.names) this.start(name);
    for (const name of this.o.members ?? []) this.start(name);
  }

  /** `kill -9` a node and wait for it to be gone. */
  async kill(name: string): Promise<void> {
    const node = this.nodes.get(name)!;
    const proc = node.proc;
    if (!proc || proc.exitCode !== null) return;
    const gone = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await gone;
    node.proc = null;
  }

  /** Send `signal` (SIGSTOP, SIGCONT, ...) to a running node's process. */
  signal(name: string, signal: NodeJS.Signals): void {
    const proc = this.nodes.get(name)!.proc;
    if (!proc || proc.exitCode !== null) throw new Error(`${name} is not running`);
    proc.kill(signal);
  }

  /** SIGTERM a node and wait for its exit code. */
  async terminate(name: string): Promise<number | null> {
    const node = this.nodes.get(name)!;
    const proc = node.proc;
    if (!proc || proc.exitCode !== null) return proc?.exitCode ?? null;
    const code = new Promise<number | null>((r) => proc.once("exit", (c) => r(c)));
    proc.kill("SIGTERM");
    node.proc = null;
    return code;
  }

  /** A control client for one node (presenting `name`'s certificate when the cluster uses TLS). */
  client(name: string, timeoutMs = 5000): ControlApi {
    const certs = this.o.tls?.nodes[name];
    const tls = certs && this.o.tls ? { ca: this.o.tls.ca, cert: certs.cert, key: certs.key } : undefined;
    return connectControl({
      addr: this.nodes.get(name)!.addr,
      token: this.token,
      timeoutMs,
      ...(tls ? { tls } : {}),
    });
  }

  /** Poll a node's status until `ok` accepts it, or throw after `timeoutMs`. */
  async waitFor(
    name: string,
    ok: (s: StatusResponse) => boolean,
    timeoutMs = 15_000,
  ): Promise<StatusResponse> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      const c = this.client(name, 1000);
      try {
        const s = await c.status();
        if (ok(s)) return s;
        last = s;
      } catch (e) {
        last = e;
      } finally {
        c.close();
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(
      `timed out waiting on ${name}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
    );
  }

  /** Wait until some live node reports a leader that is alive; returns its name. The default allows for agents starting under tsx on a loaded 2-core machine. */
  async waitForLeader(timeoutMs = 30_000): Promise<string> {
    const live = [...this.nodes.values()].filter((n) => n.proc);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const n of live) {
        try {
          const s = await this.waitFor(
            n.name,
            (x) => x.leader !== "" && !!this.nodes.get(x.leader)?.proc,
            1000,
          );
          return s.leader;
        } catch {
          // try the next node
        }
      }
    }
    throw new Error("no leader elected");
  }

  /** Stop everything and delete the temp folder. */
  async destroy(): Promise<void> {
    await Promise.all([...this.nodes.keys()].map((n) => this.kill(n)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const join_ = join;
