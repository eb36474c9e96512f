/**
 * The network faults of the campaign's netns rounds, on a NetnsLab (one namespace per node, all
 * on one bridge):
 *
 * - **drop** `from → to`: a silent one-way drop of every packet `from` sends to `to`. This kernel
 *   build may have neither iptables nor tc's gact action (the machine the campaign was written
 *   on has neither), so the drop is made in the routing layer instead: a permanent neighbour
 *   entry in `from`'s namespace that gives `to`'s address a MAC no port has. The frames leave,
 *   the bridge floods them and every namespace discards them: no error reaches the sender, as
 *   with `iptables -A OUTPUT -d TO -j DROP`. When `iptables` is installed it is used instead.
 *   Both directions make a partition.
 * - **slow** `node`: packet delay and loss on the node's egress: `tc qdisc … netem delay D loss
 *   L%` when the kernel has sch_netem, else a token-bucket limit (`tbf rate R latency D`), which
 *   delays by queueing and drops what would wait longer than D ({@link slowMethod} says which).
 *
 * Every fault is reference-counted and {@link NetFaults.healAll} removes whatever is left.
 */
import { execFileSync, spawnSync } from "node:child_process";
import type { NetnsLab } from "../support/netns-lab.ts";

const BOGUS_MAC = "02:00:00:c0:ff:ee";

function run(cmd: string, args: readonly string[]): void {
  execFileSync(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
}

function has(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { encoding: "utf8" }).status === 0;
}

/** How {@link NetFaults.slow} makes delay and loss on this machine. */
export type SlowMethod = "netem" | "tbf";

/** The network faults over one lab. */
export class NetFaults {
  private readonly drops = new Map<string, number>();
  private readonly slowed = new Map<string, number>();
  readonly dropMethod: "iptables" | "neighbour";
  readonly slowMethod: SlowMethod;

  constructor(private readonly lab: NetnsLab) {
    this.dropMethod = has("iptables") ? "iptables" : "neighbour";
    this.slowMethod = NetFaults.probeNetem(lab) ? "netem" : "tbf";
  }

  /** Whether `tc qdisc … netem` works here (tried on a node's eth0, then removed). */
  private static probeNetem(lab: NetnsLab): boolean {
    const node = Object.keys(lab.hosts)[0];
    if (!node) return false;
    const ns = lab.namespaceOf(node);
    const ok =
      spawnSync("ip", [
        "netns",
        "exec",
        ns,
        "tc",
        "qdisc",
        "replace",
        "dev",
        "eth0",
        "root",
        "netem",
        "delay",
        "1ms",
      ]).status === 0;
    if (ok) spawnSync("ip", ["netns", "exec", ns, "tc", "qdisc", "del", "dev", "eth0", "root"]);
    return ok;
  }

  /** Words for the campaign's header line. */
  describe(): string {
    return (
      `drops by ${this.dropMethod === "iptables" ? "iptables OUTPUT DROP" : "neighbour entries to a MAC no port has (no iptables here)"}, ` +
      `delay/loss by ${this.slowMethod === "netem" ? "tc netem" : "tc tbf (no sch_netem in this kernel)"}`
    );
  }

  private nsExec(node: string, cmd: string, args: readonly string[]): void {
    run("ip", ["netns", "exec", this.lab.namespaceOf(node), cmd, ...args]);
  }

  private setDrop(from: string, to: string, on: boolean): void {
    const addr = this.lab.hosts[to]!;
    if (this.dropMethod === "iptables") {
      this.nsExec(from, "iptables", [on ? "-A" : "-D", "OUTPUT", "-d", `${addr}/32`, "-j", "DROP"]);
    } else if (on) {
      this.nsExec(from, "ip", [
        "neigh",
        "replace",
        addr,
        "lladdr",
        BOGUS_MAC,
        "dev",
        "eth0",
        "nud",
        "permanent",
      ]);
    } else {
      spawnSync("ip", [
        "netns",
        "exec",
        this.lab.namespaceOf(from),
        "ip",
        "neigh",
        "del",
        addr,
        "dev",
        "eth0",
      ]);
    }
  }

  /** Drop every packet `from` sends to `to`. */
  drop(from: string, to: string): void {
    if (from === to) return;
    const k = `${from}>${to}`;
    const n = this.drops.get(k) ?? 0;
    if (n === 0) this.setDrop(from, to, true);
    this.drops.set(k, n + 1);
  }

  /** Undo one {@link drop}. */
  undrop(from: string, to: string): void {
    if (from === to) return;
    const k = `${from}>${to}`;
    const n = this.drops.get(k) ?? 0;
    if (n <= 0) return;
    if (n === 1) {
      this.setDrop(from, to, false);
      this.drops.delete(k);
    } else this.drops.set(k, n - 1);
  }

  /** Cut `a` from `b` both ways. */
  cut(a: readonly string[], b: readonly string[]): void {
    for (const x of a)
      for (const y of b) {
        this.drop(x, y);
        this.drop(y, x);
      }
  }

  uncut(a: readonly string[], b: readonly string[]): void {
    for (const x of a)
      for (const y of b) {
        this.undrop(x, y);
        this.undrop(y, x);
      }
  }

  /** Delay (ms) and loss (%) on `node`'s egress. With tbf: `rateKbit` and a latency of `delayMs`. */
  slow(node: string, o: { delayMs: number; jitterMs: number; lossPct: number; rateKbit: number }): void {
    const n = this.slowed.get(node) ?? 0;
    this.slowed.set(node, n + 1);
    if (n > 0) return;
    const args =
      this.slowMethod === "netem"
        ? ["netem", "delay", `${o.delayMs}ms`, `${o.jitterMs}ms`, "loss", `${o.lossPct}%`]
        : ["tbf", "rate", `${o.rateKbit}kbit`, "burst", "4kb", "latency", `${o.delayMs}ms`];
    this.nsExec(node, "tc", ["qdisc", "replace", "dev", "eth0", "root", ...args]);
  }

  unslow(node: string): void {
    const n = this.slowed.get(node) ?? 0;
    if (n <= 0) return;
    this.slowed.set(node, n - 1);
    if (n === 1) {
      this.slowed.delete(node);
      spawnSync("ip", [
        "netns",
        "exec",
        this.lab.namespaceOf(node),
        "tc",
        "qdisc",
        "del",
        "dev",
        "eth0",
        "root",
      ]);
    }
  }

  /** Remove every fault still in place. */
  healAll(): void {
    for (const k of [...this.drops.keys()]) {
      const [from, to] = k.split(">") as [string, string];
      this.drops.set(k, 1);
      this.undrop(from, to);
    }
    for (const n of [...this.slowed.keys()]) {
      this.slowed.set(n, 1);
      this.unslow(n);
    }
  }

  /** Faults in place (for the round's debug output). */
  active(): string[] {
    return [...this.drops.keys(), ...[...this.slowed.keys()].map((n) => `slow ${n}`)];
  }
}
