/**
 * Conclave as a {@link DetectTarget}: three electors and five member-only agents, each a
 * separate `conclave agent` process on 127.0.0.1 started by the test harness's
 * {@link ProcessCluster} from the build (`dist/`), with the default timing (member heartbeat
 * 250 ms, member timeout 1500 ms, Raft heartbeat 100 ms, election timeout 1000 ms) and log
 * level `warn`. Every elector has one handler on `member-down` (any elector may lead, as
 * docs/handler-contract.md requires); it appends `NS EVENT_ID ATTEMPT MEMBER PARENT_PIDS` to one log file shared by
 * the whole cluster, so the file has one line per run anywhere in the cluster.
 */
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ControlApi, MemberInfo } from "../src/control/control-types.ts";
import { ELECTOR_V8_FLAGS, MEMBER_V8_FLAGS } from "../src/dev/node-v8-flags.ts";
import { ProcessCluster } from "../test/support/process-cluster.ts";
import { tail } from "./bench-target.ts";
import { type DetectTarget, type HandlerRun, until } from "./detect-target.ts";

/** One committed event, as the control API's `events` returns it. */
export interface ConclaveEvent {
  id: number;
  term: number;
  type: string;
  member: string | null;
  details: Record<string, unknown>;
}

const ELECTORS = ["e1", "e2", "e3"] as const;
const MEMBERS = ["m1", "m2", "m3", "m4", "m5"] as const;

/** Three Conclave electors and five members run from `dist/`. */
export class ConclaveMembers implements DetectTarget {
  readonly label = "conclave";
  readonly members = MEMBERS;
  readonly expectedRunsPerFailure = 1;
  readonly detectTimeoutMs = 20_000;
  private cluster: ProcessCluster | undefined;
  private api: ControlApi | undefined;
  private logFile = "";
  /** Elector process ids, so a run's logged parent pids name the elector that ran it. */
  private readonly electorPids = new Map<number, string>();
  private stopped = false;

  async start(): Promise<void> {
    const c = await ProcessCluster.create({
      names: ELECTORS,
      members: MEMBERS,
      // As deployed (deploy/systemd units, conclave dev).
      nodeFlags: { elector: ELECTOR_V8_FLAGS, member: MEMBER_V8_FLAGS },
      runtime: "dist",
      logLevel: "warn",
    });
    this.cluster = c;
    this.logFile = join(c.dir, "handler-runs.log");
    const script = join(c.dir, "on-member-down");
    writeFileSync(
      script,
      [
        "#!/bin/sh",
        "t=$(date +%s%N)",
        "cat > /dev/null",
        // The elector is an ancestor (through its guard shell): log the chain of parents.
        'p=$PPID; up=$p; for i in 1 2 3; do p=$(cut -d" " -f4 /proc/$p/stat 2>/dev/null) || break; up="$up,$p"; done',
        `echo "$t $CONCLAVE_EVENT_ID $CONCLAVE_ATTEMPT $CONCLAVE_MEMBER $up" >> ${this.logFile}`,
        "",
      ].join("\n"),
    );
    chmodSync(script, 0o755);
    c.setElectorExtra(
      `handlers:\n  - name: log-down\n    on: [member-down]\n    run: ${script}\n    timeout: 10s\n`,
    );
    c.startAll();
    for (const name of ELECTORS) this.electorPids.set(c.nodes.get(name)!.proc!.pid!, name);
    await c.waitForLeader(30_000);
    // Electors are never killed here, so one client to e1 serves the whole run.
    this.api = c.client("e1", 5000);
    await this.waitAllUp(60_000);
  }

  private get c(): ProcessCluster {
    if (!this.cluster) throw new Error("the conclave cluster is not started");
    return this.cluster;
  }

  /** The member table as the cluster has committed it. */
  async memberTable(): Promise<MemberInfo[]> {
    if (!this.api) throw new Error("the conclave cluster is not started");
    return (await this.api.members()).members;
  }

  /** Every committed event (for the cross-check of handler runs against the log). */
  async events(): Promise<ConclaveEvent[]> {
    if (!this.api) throw new Error("the conclave cluster is not started");
    const out: ConclaveEvent[] = [];
    for (;;) {
      const since = out.length ? out[out.length - 1]!.id : 0;
      const page = (await this.api.events(since, "", 1000)).eventsJson.map(
        (j) => JSON.parse(j) as ConclaveEvent,
      );
      out.push(...page);
      if (page.length < 1000) return out;
    }
  }

  private async waitAllUp(timeoutMs: number): Promise<void> {
    let seen = "no answer";
    await until(
      "every member up",
      async () => {
        const table = await this.memberTable();
        seen = table.map((x) => `${x.name} ${x.status}`).join(", ") || "no members";
        return MEMBERS.every((m) => table.some((x) => x.name === m && x.status === "up")) ? true : undefined;
      },
      timeoutMs,
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}; last member table: ${seen}`);
    });
  }

  async kill9(name: string): Promise<void> {
    await this.c.kill(name);
  }

  async restart(name: string): Promise<void> {
    this.c.start(name);
    await this.waitAllUp(30_000);
  }

  runs(): HandlerRun[] {
    if (!this.logFile || !existsSync(this.logFile)) return [];
    const out: HandlerRun[] = [];
    for (const raw of readFileSync(this.logFile, "utf8").split("\n")) {
      const [t, id, attempt, member, parents] = raw.trim().split(/\s+/);
      const elector = (parents ?? "")
        .split(",")
        .map((p) => this.electorPids.get(Number(p)))
        .find((n) => n !== undefined);
      if (!t || !/^\d+$/.test(t)) continue;
      out.push({
        atNs: BigInt(t),
        failed: member ? [member] : [],
        runner: elector ?? `parents ${parents ?? "?"}`,
        eventId: `${id ?? "?"}/${attempt ?? "?"}`,
        raw,
      });
    }
    return out;
  }

  private pidsOf(names: readonly string[]): Map<string, number> {
    const out = new Map<string, number>();
    for (const name of names) {
      const pid = this.cluster?.nodes.get(name)?.proc?.pid;
      if (pid !== undefined) out.set(name, pid);
    }
    return out;
  }

  memberPids(): Map<string, number> {
    return this.pidsOf(MEMBERS);
  }

  otherPids(): Map<string, number> {
    return this.pidsOf(ELECTORS);
  }

  version(): string {
    const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
      version: string;
    };
    return pkg.version;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.api?.close();
    await this.cluster?.destroy();
    this.stopped = true;
  }

  stopSync(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.api?.close();
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
