/**
 * Serf as a {@link DetectTarget}: five `serf agent` processes from Debian's `serf` package
 * on 127.0.0.1, each with its own gossip port (`-bind`, TCP and UDP) and RPC port
 * (`-rpc-addr`), the LAN profile (`-profile=lan`: probe every 1 s, gossip every 200 ms,
 * push-pull every 30 s), log level `warn`, joined to s1 (a restarted agent joins every other
 * agent), and the event handler `-event-handler member-failed=SCRIPT`. Serf runs that script
 * on every agent that sees the failure, with the failed members on standard input (one
 * tab-separated line each); it appends `NS EVENT SELF MEMBERS` to one log file shared by all
 * agents, so the file has one line per run anywhere in the group.
 *
 * {@link ensureSerf} installs the package with apt-get when `serf` is not on PATH.
 */
import { ensureDebianTool, type ToolAvailability } from "./debian-install.ts";
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "../test/support/process-cluster.ts";
import { tail } from "./bench-target.ts";
import { type DetectTarget, type HandlerRun, until } from "./detect-target.ts";

const execFileAsync = promisify(execFile);

/** The outcome of {@link ensureSerf}: the binary's version, or why there is none. */
export type SerfAvailability = ToolAvailability;

/**
 * The installed version, or undefined when serf does not run: the Debian package's version
 * when dpkg knows it, beside what `serf version` says (Debian's build reports the version
 * compiled into the sources, which differs from the package's).
 */
function serfVersion(): string | undefined {
  const r = spawnSync("serf", ["version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) return undefined;
  const own = r.stdout.trim().split("\n")[0]?.trim() ?? "?";
  const d = spawnSync("dpkg-query", ["-W", "-f=${Version}", "serf"], { encoding: "utf8" });
  const pkg = !d.error && d.status === 0 ? d.stdout.trim() : "";
  return pkg ? `${pkg} (Debian package; \`serf version\`: ${own})` : own;
}

/**
 * Make sure `serf` is on PATH: when it is not, install Debian's `serf` with
 * `apt-get install -y serf` (as root, or through `sudo -n` otherwise), running
 * `apt-get update` and trying again if the first attempt fails. Never throws: a failure (no
 * network, not root, not Debian) comes back as `{ ok: false, reason }`. `log` receives
 * progress lines.
 */
export function ensureSerf(log: (line: string) => void): SerfAvailability {
  return ensureDebianTool({ command: "serf", pkg: "serf", version: serfVersion, log });
}

/** One serf agent. */
interface Agent {
  readonly name: string;
  readonly bindPort: number;
  readonly rpcPort: number;
  proc: ChildProcess | null;
  /** The last 64 KiB the process wrote. */
  output: string;
}

/** One entry of `serf members -format=json`. */
interface SerfMember {
  name: string;
  status: string;
}

const NAMES = ["s1", "s2", "s3", "s4", "s5"] as const;

/** Five serf agents on loopback. Call {@link ensureSerf} first. */
export class SerfAgents implements DetectTarget {
  readonly label = "serf";
  readonly members = NAMES;
  readonly expectedRunsPerFailure = NAMES.length - 1;
  /** Serf's suspicion timeout starts at 6 x 4 probe intervals (24 s) without confirmations. */
  readonly detectTimeoutMs = 40_000;
  private readonly agents = new Map<string, Agent>();
  private dir: string | undefined;
  private logFile = "";
  private script = "";
  private stopped = false;

  constructor(private readonly versionString: string) {}

  async start(): Promise<void> {
    this.dir = mkdtempSync(join(tmpdir(), "conclave-bench-serf-"));
    this.logFile = join(this.dir, "handler-runs.log");
    this.script = join(this.dir, "on-member-failed");
    writeFileSync(
      this.script,
      [
        "#!/bin/sh",
        "t=$(date +%s%N)",
        // One line per failed member on stdin: NAME<TAB>ADDRESS<TAB>ROLE<TAB>TAGS.
        `m=$(cat | tr '\\t\\n' ' ;')`,
        `echo "$t $SERF_EVENT $SERF_SELF_NAME $m" >> ${this.logFile}`,
        "",
      ].join("\n"),
    );
    chmodSync(this.script, 0o755);
    for (const name of NAMES) {
      this.agents.set(name, {
        name,
        bindPort: await freePort(),
        rpcPort: await freePort(),
        proc: null,
        output: "",
      });
    }
    this.spawn("s1", []);
    await until("s1 answering RPC", () => this.membersSeenBy("s1"), 15_000);
    for (const name of NAMES.slice(1)) this.spawn(name, ["s1"]);
    await this.waitAllAlive(30_000);
  }

  private spawn(name: string, joinTo: readonly string[]): void {
    const a = this.agents.get(name)!;
    const args = [
      "agent",
      `-node=${name}`,
      `-bind=127.0.0.1:${a.bindPort}`,
      `-rpc-addr=127.0.0.1:${a.rpcPort}`,
      "-profile=lan",
      "-log-level=warn",
      `-event-handler=member-failed=${this.script}`,
      ...joinTo.map((n) => `-join=127.0.0.1:${this.agents.get(n)!.bindPort}`),
    ];
    const proc = spawn("serf", args, { cwd: this.dir, stdio: ["ignore", "pipe", "pipe"] });
    a.output = "";
    const keep = (d: Buffer) => {
      a.output += d.toString();
      if (a.output.length > 65_536) a.output = a.output.slice(-65_536);
    };
    proc.stdout!.on("data", keep);
    proc.stderr!.on("data", keep);
    proc.on("error", (e) => keep(Buffer.from(`spawn error: ${e.message}\n`)));
    proc.on("exit", (code, signal) => keep(Buffer.from(`exited: code ${code}, signal ${signal}\n`)));
    a.proc = proc;
  }

  /** `serf members` as agent `name` sees them, or undefined when it does not answer. */
  private async membersSeenBy(name: string): Promise<SerfMember[] | undefined> {
    const a = this.agents.get(name)!;
    try {
      const { stdout } = await execFileAsync(
        "serf",
        ["members", `-rpc-addr=127.0.0.1:${a.rpcPort}`, "-format=json"],
        { timeout: 5000 },
      );
      return (JSON.parse(stdout) as { members: SerfMember[] }).members;
    } catch {
      return undefined;
    }
  }

  /** Wait until every running agent sees every agent alive. */
  private async waitAllAlive(timeoutMs: number): Promise<void> {
    await until(
      "every serf agent seeing every agent alive",
      async () => {
        for (const name of NAMES) {
          const seen = await this.membersSeenBy(name);
          if (!seen) return undefined;
          if (!NAMES.every((n) => seen.some((m) => m.name === n && m.status === "alive"))) return undefined;
        }
        return true;
      },
      timeoutMs,
      200,
    );
  }

  async kill9(name: string): Promise<void> {
    const a = this.agents.get(name)!;
    const proc = a.proc;
    if (!proc || proc.pid === undefined || proc.exitCode !== null || proc.signalCode !== null) {
      a.proc = null;
      return;
    }
    const gone = new Promise((r) => proc.once("exit", r));
    proc.kill("SIGKILL");
    await gone;
    a.proc = null;
  }

  async restart(name: string): Promise<void> {
    this.spawn(
      name,
      NAMES.filter((n) => n !== name && this.agents.get(n)!.proc),
    );
    await this.waitAllAlive(60_000);
  }

  runs(): HandlerRun[] {
    if (!this.logFile || !existsSync(this.logFile)) return [];
    const out: HandlerRun[] = [];
    for (const raw of readFileSync(this.logFile, "utf8").split("\n")) {
      const m = /^(\d+) (\S+) (\S+) ?(.*)$/.exec(raw.trim());
      if (!m) continue;
      const failed = m[4]!
        .split(";")
        .map((entry) => entry.trim().split(/\s+/)[0] ?? "")
        .filter((n) => n !== "");
      out.push({ atNs: BigInt(m[1]!), failed, runner: m[3]!, eventId: "", raw });
    }
    return out;
  }

  memberPids(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [name, a] of this.agents) if (a.proc?.pid !== undefined) out.set(name, a.proc.pid);
    return out;
  }

  otherPids(): Map<string, number> {
    return new Map();
  }

  version(): string {
    return this.versionString;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    await Promise.all(NAMES.map((n) => (this.agents.has(n) ? this.kill9(n) : undefined)));
    this.stopSync();
  }

  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const a of this.agents.values()) a.proc?.kill("SIGKILL");
    if (this.dir) rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  diagnostics(): string {
    return [...this.agents.values()]
      .map(
        (a) =>
          `  ${a.name} (${a.proc ? `pid ${a.proc.pid}` : "not running"}):\n${tail(a.output) || "    (no output)"}`,
      )
      .join("\n");
  }
}
