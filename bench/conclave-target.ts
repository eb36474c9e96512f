/**
 * Three Conclave electors as {@link Target}: separate `conclave agent` processes on
 * 127.0.0.1 started by the test harness's {@link ProcessCluster} from the build (`dist/`,
 * so `npm run build` first), with the default fsynced LevelDB log store in a temp dir and
 * log level `warn`. Writes are `KvPut` calls of the control API through
 * {@link connectControl}, sent to the leader.
 */
import { readFileSync, rmSync } from "node:fs";
import { connectControl } from "../src/control/control-client.ts";
import type { ControlApi } from "../src/control/control-types.ts";
import { ELECTOR_V8_FLAGS } from "../src/dev/node-v8-flags.ts";
import { ProcessCluster } from "../test/support/process-cluster.ts";
import { type Target, tail } from "./bench-target.ts";

/** Options of {@link ConclaveTarget}. */
export interface ConclaveTargetOptions {
  /** Raft heartbeat and election timeout as the config takes them (default "100ms", "1000ms"). */
  raftHeartbeat?: string;
  electionTimeout?: string;
}

/** Three Conclave electors run from `dist/`. */
export class ConclaveTarget implements Target {
  readonly label = "conclave";
  readonly names = ["e1", "e2", "e3"] as const;
  private cluster: ProcessCluster | undefined;
  private leader: string | undefined;
  /** Clients with the default deadline and UNAVAILABLE retries, for {@link put}. */
  private readonly clients = new Map<string, ControlApi>();
  /** Single-attempt clients keyed by `name/timeoutMs`, for {@link putTo}. */
  private readonly attemptClients = new Map<string, ControlApi>();
  private stopped = false;

  constructor(private readonly o: ConclaveTargetOptions = {}) {}

  async start(): Promise<void> {
    this.cluster = await ProcessCluster.create({
      names: this.names,
      runtime: "dist",
      // As deployed (deploy/systemd/conclave.service, conclave dev).
      nodeFlags: { elector: ELECTOR_V8_FLAGS },
      logLevel: "warn",
      raftHeartbeat: this.o.raftHeartbeat ?? "100ms",
      electionTimeout: this.o.electionTimeout ?? "1000ms",
    });
    this.cluster.startAll();
    await this.leaderName(30_000);
  }

  private get c(): ProcessCluster {
    if (!this.cluster) throw new Error("the conclave cluster is not started");
    return this.cluster;
  }

  private client(name: string): ControlApi {
    let client = this.clients.get(name);
    if (!client) {
      client = connectControl({ addr: this.c.nodes.get(name)!.addr, token: this.c.token, timeoutMs: 5000 });
      this.clients.set(name, client);
    }
    return client;
  }

  async put(key: string, value: string): Promise<void> {
    if (!this.leader) throw new Error("no leader known; call leaderName() first");
    await this.client(this.leader).kvPut(key, value);
  }

  async putTo(name: string, key: string, value: string, timeoutMs: number): Promise<void> {
    const id = `${name}/${timeoutMs}`;
    let client = this.attemptClients.get(id);
    if (!client) {
      client = connectControl({
        addr: this.c.nodes.get(name)!.addr,
        token: this.c.token,
        timeoutMs,
        retryUnavailable: false,
      });
      this.attemptClients.set(id, client);
    }
    await client.kvPut(key, value);
  }

  async leaderName(timeoutMs = 15_000): Promise<string> {
    this.leader = await this.c.waitForLeader(timeoutMs);
    return this.leader;
  }

  async kill9(name: string): Promise<void> {
    await this.c.kill(name);
  }

  async restart(name: string): Promise<void> {
    // The old channels point at a dead process: start the next calls on fresh ones.
    this.closeClientsOf(name);
    this.c.start(name);
  }

  async waitWhole(timeoutMs: number): Promise<void> {
    // Status on any node is answered by the leader; its progress tells whether every
    // elector has acknowledged the whole log (a restarted one starts at match 0).
    const n = this.names.length;
    for (const name of this.names) {
      if (!this.c.nodes.get(name)!.proc) throw new Error(`${name} is not running`);
    }
    await this.c.waitFor(
      this.names[0],
      (s) =>
        s.leader !== null &&
        s.leader !== "" &&
        s.electors.length === n &&
        s.electors.every((e) => e.reachable && (e.match ?? -1) >= s.commit && e.role !== "learner"),
      timeoutMs,
    );
  }

  pids(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [name, node] of this.cluster?.nodes ?? []) {
      if (node.proc?.pid !== undefined) out.set(name, node.proc.pid);
    }
    return out;
  }

  version(): string {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    return pkg.version;
  }

  private closeClientsOf(name: string): void {
    for (const map of [this.clients, this.attemptClients]) {
      for (const [id, client] of map) {
        if (id === name || id.startsWith(`${name}/`)) {
          client.close();
          map.delete(id);
        }
      }
    }
  }

  private closeClients(): void {
    for (const client of [...this.clients.values(), ...this.attemptClients.values()]) client.close();
    this.clients.clear();
    this.attemptClients.clear();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.closeClients();
    await this.cluster?.destroy();
  }

  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closeClients();
    if (!this.cluster) return;
    for (const node of this.cluster.nodes.values()) node.proc?.kill("SIGKILL");
    rmSync(this.cluster.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  diagnostics(): string {
    return [...(this.cluster?.nodes.values() ?? [])]
      .map(
        (n) =>
          `  ${n.name} (${n.proc ? `pid ${n.proc.pid}` : "not running"}):\n${tail(n.output) || "    (no output)"}`,
      )
      .join("\n");
  }
}
