/**
 * A three-member etcd cluster as {@link Target}: Debian's `etcd-server` (etcd 3.4) run as
 * three processes on 127.0.0.1 with their data dirs in a temp dir (real fsync, etcd's
 * defaults otherwise), the given heartbeat and election timeout, and written to with the
 * v3 gRPC API (`etcdserverpb.KV/Put`, `etcdserverpb.Maintenance/Status` to find the leader)
 * through grpc-js and protobufjs, using the messages of bench/etcd-kv.proto.
 *
 * The clients use the same channel options as Conclave's ({@link createChannelOptions}:
 * keepalive pings every 2 s), so the members run with `--grpc-keepalive-min-time 1s`
 * (etcd's default of 5 s would answer those pings with GOAWAY "too_many_pings").
 *
 * {@link ensureEtcd} installs the package with apt-get when `etcd` is not on PATH.
 */
import { ensureDebianTool, type ToolAvailability } from "./debian-install.ts";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { createChannelOptions } from "../src/rpc/channel-options.ts";
import { freePort } from "../test/support/process-cluster.ts";
import { sleep, type Target, tail } from "./bench-target.ts";

/** The outcome of {@link ensureEtcd}: the binary's version, or why there is none. */
export type EtcdAvailability = ToolAvailability;

/** `etcd --version`'s "etcd Version: X" line, or undefined when etcd does not run. */
function etcdVersion(): string | undefined {
  const r = spawnSync("etcd", ["--version"], { encoding: "utf8", env: etcdEnv() });
  if (r.error || r.status !== 0) return undefined;
  return /etcd Version:\s*(\S+)/.exec(r.stdout)?.[1] ?? r.stdout.trim().split("\n")[0];
}

/**
 * Make sure `etcd` is on PATH: when it is not, install Debian's `etcd-server` with
 * `apt-get install -y` (as root, or through `sudo -n` otherwise), running `apt-get update`
 * and trying again if the first attempt fails. Never throws: a failure (no network, not
 * root, not Debian) comes back as `{ ok: false, reason }`. `log` receives progress lines.
 */
export function ensureEtcd(log: (line: string) => void): EtcdAvailability {
  return ensureDebianTool({ command: "etcd", pkg: "etcd-server", version: etcdVersion, log });
}

/** The environment of the etcd processes: ours less any ETCD_* settings, plus the arch override. */
function etcdEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith("ETCD_")) env[k] = v;
  // etcd 3.4 refuses to start on architectures other than amd64 and ppc64le unless told to.
  const goArch: Record<string, string> = { arm64: "arm64", arm: "arm", ia32: "386", s390x: "s390x" };
  const arch = goArch[process.arch];
  if (arch) env.ETCD_UNSUPPORTED_ARCH = arch;
  return env;
}

/** Decoded StatusResponse (64-bit integers as decimal strings: member ids do not fit a double). */
interface EtcdStatus {
  header: { memberId: string };
  leader: string;
  raftIndex: string;
  raftAppliedIndex: string;
}

type Unary = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: object) => void,
) => grpc.ClientUnaryCall;

let constructor_: grpc.ServiceClientConstructor | undefined;

/** A grpc-js client constructor with the `Put` and `Status` methods of bench/etcd-kv.proto. */
function etcdClientConstructor(): grpc.ServiceClientConstructor {
  if (constructor_) return constructor_;
  const root = protobuf.loadSync(fileURLToPath(new URL("./etcd-kv.proto", import.meta.url)));
  const method = (service: string, name: string): grpc.MethodDefinition<object, object> => {
    const m = root.lookupService(`etcdserverpb.${service}`).methods[name]!;
    m.resolve();
    const req = m.resolvedRequestType!;
    const res = m.resolvedResponseType!;
    return {
      path: `/etcdserverpb.${service}/${name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: (v) => Buffer.from(req.encode(req.fromObject(v)).finish()),
      requestDeserialize: (b) => req.toObject(req.decode(b)),
      responseSerialize: (v) => Buffer.from(res.encode(res.fromObject(v)).finish()),
      responseDeserialize: (b) => res.toObject(res.decode(b), { longs: String, defaults: true }),
    };
  };
  constructor_ = grpc.makeGenericClientConstructor(
    { Put: method("KV", "Put"), Status: method("Maintenance", "Status") },
    "Etcd",
  );
  return constructor_;
}

/** One etcd member. */
interface Member {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly args: string[];
  proc: ChildProcess | null;
  /** The last 64 KiB the process wrote. */
  output: string;
  client: (grpc.Client & Record<string, Unary>) | null;
}

/** Options of {@link EtcdTarget}. */
export interface EtcdTargetOptions {
  /** etcd's `--heartbeat-interval` and `--election-timeout` in ms (default 100 and 1000). */
  heartbeatMs?: number;
  electionMs?: number;
  /** The version {@link ensureEtcd} found, for the report. */
  version: string;
}

/** Three etcd members on loopback. Call {@link ensureEtcd} first. */
export class EtcdTarget implements Target {
  readonly label = "etcd";
  readonly names = ["n1", "n2", "n3"] as const;
  private readonly members = new Map<string, Member>();
  private dir: string | undefined;
  private leader: string | undefined;
  /** Member id (decimal) → name, learnt from each member's Status. */
  private readonly ids = new Map<string, string>();
  private readonly value = new Map<string, Buffer>();
  private stopped = false;

  constructor(private readonly o: EtcdTargetOptions) {}

  async start(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), "conclave-bench-etcd-"));
    const ports = new Map<string, [number, number]>();
    for (const name of this.names) ports.set(name, [await freePort(), await freePort()]);
    const initialCluster = this.names.map((n) => `${n}=http://127.0.0.1:${ports.get(n)![1]}`).join(",");
    const token = `conclave-bench-${process.pid}-${Date.now()}`;
    for (const name of this.names) {
      const [clientPort, peerPort] = ports.get(name)!;
      const client = `http://127.0.0.1:${clientPort}`;
      const peer = `http://127.0.0.1:${peerPort}`;
      const args = [
        `--name=${name}`,
        `--data-dir=${join(this.dir, `${name}.etcd`)}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=${initialCluster}`,
        "--initial-cluster-state=new",
        `--initial-cluster-token=${token}`,
        `--heartbeat-interval=${this.o.heartbeatMs ?? 100}`,
        `--election-timeout=${this.o.electionMs ?? 1000}`,
        "--grpc-keepalive-min-time=1s",
        "--logger=zap",
        "--log-outputs=stderr",
        "--log-level=warn",
      ];
      this.members.set(name, { name, clientPort, peerPort, args, proc: null, output: "", client: null });
    }
    for (const name of this.names) this.spawn(name);
    // Learn every member's id, then wait for a leader.
    const deadline = Date.now() + 30_000;
    while (this.ids.size < this.names.length) {
      for (const name of this.names) {
        const s = await this.status(name, 1000).catch(() => undefined);
        if (s) this.ids.set(s.header.memberId, name);
      }
      if (Date.now() > deadline) throw new Error("etcd members did not answer Status within 30 s");
      if (this.ids.size < this.names.length) await sleep(100);
    }
    await this.leaderName(30_000);
  }

  private spawn(name: string): void {
    const m = this.members.get(name)!;
    const proc = spawn("etcd", m.args, { env: etcdEnv(), stdio: ["ignore", "pipe", "pipe"] });
    m.output = "";
    const keep = (d: Buffer) => {
      m.output += d.toString();
      if (m.output.length > 65_536) m.output = m.output.slice(-65_536);
    };
    proc.stdout!.on("data", keep);
    proc.stderr!.on("data", keep);
    proc.on("error", (e) => keep(Buffer.from(`spawn error: ${e.message}\n`)));
    m.proc = proc;
  }

  private client(name: string): grpc.Client & Record<string, Unary> {
    const m = this.members.get(name)!;
    if (!m.client) {
      const Ctor = etcdClientConstructor();
      m.client = new Ctor(
        `127.0.0.1:${m.clientPort}`,
        grpc.credentials.createInsecure(),
        createChannelOptions(),
      ) as unknown as grpc.Client & Record<string, Unary>;
    }
    return m.client;
  }

  private call<T>(name: string, method: string, request: object, timeoutMs: number): Promise<T> {
    const client = this.client(name);
    return new Promise<T>((resolve, reject) => {
      client[method]!(request, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(new Error(`etcd ${name} ${method}: ${err.details || err.message}`));
        else resolve(res as T);
      });
    });
  }

  private status(name: string, timeoutMs: number): Promise<EtcdStatus> {
    return this.call<EtcdStatus>(name, "Status", {}, timeoutMs);
  }

  private bytes(value: string): Buffer {
    let b = this.value.get(value);
    if (!b) {
      b = Buffer.from(value);
      if (this.value.size < 16) this.value.set(value, b);
    }
    return b;
  }

  async put(key: string, value: string): Promise<void> {
    if (!this.leader) throw new Error("no leader known; call leaderName() first");
    await this.call(this.leader, "Put", { key: Buffer.from(key), value: this.bytes(value) }, 5000);
  }

  async putTo(name: string, key: string, value: string, timeoutMs: number): Promise<void> {
    await this.call(name, "Put", { key: Buffer.from(key), value: this.bytes(value) }, timeoutMs);
  }

  async leaderName(timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = "no member answered";
    while (Date.now() < deadline) {
      for (const name of this.names) {
        if (!this.members.get(name)!.proc) continue;
        try {
          const s = await this.status(name, 1000);
          const leader = this.ids.get(s.leader);
          if (leader && this.members.get(leader)!.proc) {
            this.leader = leader;
            return leader;
          }
          last = `${name} reports leader ${s.leader}`;
        } catch (e) {
          last = (e as Error).message;
        }
      }
      await sleep(100);
    }
    throw new Error(`etcd elected no leader within ${timeoutMs} ms; last: ${last}`);
  }

  async kill9(name: string): Promise<void> {
    const m = this.members.get(name)!;
    const proc = m.proc;
    if (!proc || proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) {
      m.proc = null;
      return;
    }
    const gone = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await gone;
    m.proc = null;
  }

  async restart(name: string): Promise<void> {
    const m = this.members.get(name)!;
    m.client?.close();
    m.client = null;
    // A member with a data dir ignores the --initial-cluster* flags and replays its WAL.
    this.spawn(name);
  }

  async waitWhole(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < deadline) {
      try {
        const all = await Promise.all(this.names.map((n) => this.status(n, 1000)));
        const leaders = new Set(all.map((s) => s.leader));
        const applied = new Set(all.map((s) => s.raftAppliedIndex));
        const [leader] = leaders;
        if (leaders.size === 1 && leader !== "0" && this.ids.has(leader!) && applied.size === 1) return;
        last = `leaders ${[...leaders].join("/")}, applied ${all.map((s) => s.raftAppliedIndex).join("/")}`;
      } catch (e) {
        last = (e as Error).message;
      }
      await sleep(100);
    }
    throw new Error(`etcd did not become whole within ${timeoutMs} ms; last: ${last}`);
  }

  pids(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [name, m] of this.members) if (m.proc?.pid !== undefined) out.set(name, m.proc.pid);
    return out;
  }

  version(): string {
    return this.o.version;
  }

  private closeClients(): void {
    for (const m of this.members.values()) {
      m.client?.close();
      m.client = null;
    }
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.closeClients();
    await Promise.all(this.names.map((n) => this.kill9(n)));
    this.stopSync();
  }

  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.closeClients();
    for (const m of this.members.values()) m.proc?.kill("SIGKILL");
    if (this.dir) rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  diagnostics(): string {
    return [...this.members.values()]
      .map(
        (m) =>
          `  ${m.name} (${m.proc ? `pid ${m.proc.pid}` : "not running"}):\n${tail(m.output) || "    (no output)"}`,
      )
      .join("\n");
  }
}
