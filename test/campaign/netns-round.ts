/**
 * What a netns round adds to round.ts (as root, with network namespaces): a NetnsLab with one
 * namespace per elector and member and one for BIND9 (`dns`), the network faults over it
 * (netns-faults.ts), the campaign's check server on the lab's bridge address (the members reach
 * it from their namespaces; the nemesis's partitions never cut it: it stands for each member's
 * own application), a real `named` in the `dns` namespace serving the dynamic zone
 * `example.test`, the DNS handler (handlers/src/dns-rfc2136.ts, `mode: latest`, `--check` the
 * campaign's HTTP check) for the electors' config, and the sampler that digs `www.example.test`
 * every ~150 ms for the DNS checker (check-dns.ts).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { NetnsLab } from "../support/netns-lab.ts";
import type { DnsSample } from "./check-dns.ts";
import { NetFaults } from "./netns-faults.ts";
import { handlerArgv } from "../support/conclave-entry.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The lab's node that runs BIND9. */
export const DNS_NODE = "dns";
export const DNS_ZONE = "example.test";
export const DNS_NAME = `www.${DNS_ZONE}`;
/** The events the DNS handler needs with --check (handlers/README.md). */
const DNS_ON = ["member-joined", "member-up", "member-down", "member-left", "check-failing", "check-passing"];
const SAMPLE_EVERY_MS = 150;

function findTool(name: string): string | null {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/sbin"];
  for (const d of dirs) if (d && existsSync(join(d, name))) return join(d, name);
  return null;
}

/** Why a netns round cannot have BIND9 here, or null. */
export function bindUnavailable(): string | null {
  const missing = ["named", "dig", "tsig-keygen"].filter((t) => findTool(t) === null);
  return missing.length === 0
    ? null
    : `${missing.join(", ")} not installed (apt-get install bind9 bind9-dnsutils)`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mono = () => process.hrtime.bigint();

/** The namespaces, BIND9 and the sampler of one round. */
export class NetnsEnv {
  readonly lab: NetnsLab;
  readonly net: NetFaults;
  /** The bridge's address in the campaign's own namespace (the check server listens there). */
  readonly gateway: string;
  readonly dnsAddr: string;
  readonly samples: DnsSample[] = [];
  private readonly dir = mkdtempSync(join(tmpdir(), "conclave-campaign-named-"));
  private readonly keyFile = join(this.dir, "conclave.key");
  private named: ChildProcess | null = null;
  private namedOutput = "";
  private sampling = false;
  private sampler: Promise<void> | null = null;

  /** Build the lab for `nodes` (electors and members) plus the DNS node. */
  constructor(nodes: readonly string[]) {
    this.lab = new NetnsLab([...nodes, DNS_NODE]);
    try {
      this.net = new NetFaults(this.lab);
    } catch (e) {
      this.lab.destroy();
      throw e;
    }
    this.dnsAddr = this.lab.hosts[DNS_NODE]!;
    this.gateway = this.dnsAddr.replace(/\.\d+$/, ".254");
  }

  /** `nodeHosts` and `spawnPrefix` for ProcessCluster (the cluster's nodes only). */
  clusterOptions(nodes: readonly string[]): {
    nodeHosts: Record<string, string>;
    spawnPrefix: Record<string, string[]>;
  } {
    return {
      nodeHosts: Object.fromEntries(nodes.map((n) => [n, this.lab.hosts[n]!])),
      spawnPrefix: Object.fromEntries(nodes.map((n) => [n, this.lab.prefixes[n]!])),
    };
  }

  /** Member → the address its A record carries. */
  addressOf(members: readonly string[]): Record<string, string> {
    return Object.fromEntries(members.map((m) => [m, this.lab.hosts[m]!]));
  }

  /** Start `named` in the DNS namespace, serving the dynamic zone on port 53. */
  async startNamed(): Promise<void> {
    writeFileSync(this.keyFile, execFileSync(findTool("tsig-keygen")!, ["-a", "hmac-sha256", "conclave"]));
    chmodSync(this.keyFile, 0o600);
    const zone = join(this.dir, `${DNS_ZONE}.zone`);
    writeFileSync(
      zone,
      [
        "$TTL 60",
        `@ IN SOA ns.${DNS_ZONE}. admin.${DNS_ZONE}. 1 60 60 600 60`,
        `@ IN NS ns.${DNS_ZONE}.`,
        `ns IN A ${this.dnsAddr}`,
        "",
      ].join("\n"),
    );
    const conf = join(this.dir, "named.conf");
    writeFileSync(
      conf,
      `include "${this.keyFile}";
options {
  directory "${this.dir}";
  listen-on port 53 { ${this.dnsAddr}; };
  listen-on-v6 { none; };
  pid-file none;
  session-keyfile none;
  recursion no;
  notify no;
  dnssec-validation no;
};
zone "${DNS_ZONE}" {
  type primary;
  file "${zone}";
  allow-update { key conclave; };
};
`,
    );
    const proc = spawn(
      "ip",
      ["netns", "exec", this.lab.namespaceOf(DNS_NODE), findTool("named")!, "-g", "-n", "1", "-c", conf],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    this.named = proc;
    const collect = (d: Buffer) => {
      this.namedOutput += d.toString();
    };
    proc.stdout!.on("data", collect);
    proc.stderr!.on("data", collect);
    const deadline = Date.now() + 15_000;
    while (!/\brunning\b/.test(this.namedOutput)) {
      if (proc.exitCode !== null) throw new Error(`named exited ${proc.exitCode}:\n${this.namedOutput}`);
      if (Date.now() > deadline) throw new Error(`named did not start in 15 s:\n${this.namedOutput}`);
      await sleep(100);
    }
  }

  /** The `handlers:` entry of the DNS handler (lines to append under `handlers:`). */
  handlerLines(dir: string, check: string): string[] {
    const wrapper = join(dir, "dns-rfc2136");
    writeFileSync(
      wrapper,
      [
        "#!/bin/sh",
        `cd ${ROOT} && exec ${[process.execPath, ...handlerArgv("dns-rfc2136", [])].join(" ")} --server=${this.dnsAddr} --port=53 ` +
          `--zone=${DNS_ZONE} --name=www --key-file=${this.keyFile} --ttl=1 --check=${check} "$@"`,
        "",
      ].join("\n"),
    );
    chmodSync(wrapper, 0o755);
    return [
      "  - name: dns",
      "    mode: latest",
      `    on: [${DNS_ON.join(", ")}]`,
      `    run: ${wrapper}`,
      "    timeout: 10s",
    ];
  }

  /** One dig of the name (sorted A records, or null when dig failed). */
  dig(): Promise<string[] | null> {
    return new Promise((resolve) =>
      execFile(
        findTool("dig")!,
        [`@${this.dnsAddr}`, "-p", "53", "+short", "+time=1", "+tries=1", DNS_NAME, "A"],
        (err, stdout) =>
          resolve(
            err
              ? null
              : stdout
                  .split("\n")
                  .map((l) => l.trim())
                  .filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l))
                  .sort(),
          ),
      ),
    );
  }

  /** Sample every ~150 ms until {@link stopSampling}. */
  startSampling(): void {
    if (this.sampling) return;
    this.sampling = true;
    this.sampler = (async () => {
      while (this.sampling) {
        const sentAt = mono();
        const addrs = await this.dig();
        const at = mono();
        this.samples.push({ sentAt, at, addrs });
        const left = SAMPLE_EVERY_MS - Number((at - sentAt) / 1_000_000n);
        if (left > 0) await sleep(left);
      }
    })();
  }

  /**
   * Wait until the answers have equalled `want` for `stableMs` (true), or until `deadline`
   * (Date.now() ms; false).
   */
  async waitStable(want: readonly string[], stableMs: number, deadline: number): Promise<boolean> {
    const key = JSON.stringify([...want].sort());
    while (Date.now() < deadline) {
      const since = mono() - BigInt(stableMs) * 1_000_000n;
      const recent = this.samples.filter((s) => s.sentAt >= since);
      const older = this.samples.filter((s) => s.sentAt < since).at(-1);
      if (
        recent.length >= 3 &&
        older &&
        JSON.stringify(older.addrs) === key &&
        recent.every((s) => JSON.stringify(s.addrs) === key)
      )
        return true;
      await sleep(100);
    }
    return false;
  }

  async stopSampling(): Promise<void> {
    this.sampling = false;
    await this.sampler;
  }

  /** named's output (kept with a violating round's records). */
  namedLog(): string {
    return this.namedOutput;
  }

  /** Stop sampling and named, remove the faults, the namespaces and the folder. */
  async destroy(): Promise<void> {
    await this.stopSampling().catch(() => {});
    const p = this.named;
    if (p && p.exitCode === null) {
      const gone = new Promise((r) => p.once("exit", r));
      p.kill("SIGKILL");
      await Promise.race([gone, sleep(3000)]);
    }
    try {
      this.net.healAll();
    } catch {
      // the namespaces go anyway
    }
    this.lab.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
