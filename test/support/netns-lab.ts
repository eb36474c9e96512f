/**
 * A small network of Linux network namespaces for partition tests: one namespace per node,
 * each joined by a veth pair to a bridge in the test's own namespace (which also gets an
 * address, so the test process can reach every node). `cut(node)` takes the node's bridge port
 * down (the node can reach nobody, nobody can reach it); `heal(node)` brings it back.
 *
 * Needs root and iproute2; {@link netnsUnavailable} says why it cannot run, so tests skip with
 * that reason instead of passing silently.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

function ip(args: readonly string[]): void {
  execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Why network namespaces cannot be used here, or null when they can. */
export function netnsUnavailable(): string | null {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "network namespaces need root (run the suite as root, as CI does)";
  const probe = `cvprobe${randomBytes(3).toString("hex")}`;
  const add = spawnSync("ip", ["netns", "add", probe], { encoding: "utf8" });
  if (add.error) return `ip (iproute2) is not installed: ${add.error.message}`;
  if (add.status !== 0) return `ip netns add failed: ${add.stderr.trim()}`;
  spawnSync("ip", ["netns", "del", probe]);
  return null;
}

/** The namespaces of one test. */
export class NetnsLab {
  private readonly tag = randomBytes(2).toString("hex");
  private readonly subnet = `10.${100 + (randomBytes(1)[0]! % 100)}.${randomBytes(1)[0]! % 250}`;
  private readonly bridge = `cvbr${this.tag}`;
  /** Node name → its address inside its namespace. */
  readonly hosts: Record<string, string> = {};
  /** Node name → the command prefix that runs a program in its namespace. */
  readonly prefixes: Record<string, string[]> = {};
  private readonly ports = new Map<string, string>();
  private readonly namespaces: string[] = [];

  /** Build the network for `nodes`. */
  constructor(nodes: readonly string[]) {
    try {
      ip(["link", "add", this.bridge, "type", "bridge"]);
      ip(["addr", "add", `${this.subnet}.254/24`, "dev", this.bridge]);
      ip(["link", "set", this.bridge, "up"]);
      nodes.forEach((name, i) => {
        const ns = `cv${this.tag}${name}`;
        const port = `cvp${this.tag}${i}`;
        ip(["netns", "add", ns]);
        this.namespaces.push(ns);
        ip(["link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns]);
        ip(["link", "set", port, "master", this.bridge]);
        ip(["link", "set", port, "up"]);
        const addr = `${this.subnet}.${i + 1}`;
        ip(["-n", ns, "addr", "add", `${addr}/24`, "dev", "eth0"]);
        ip(["-n", ns, "link", "set", "eth0", "up"]);
        ip(["-n", ns, "link", "set", "lo", "up"]);
        this.hosts[name] = addr;
        this.prefixes[name] = ["ip", "netns", "exec", ns];
        this.ports.set(name, port);
      });
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** The namespace `node` runs in. */
  namespaceOf(node: string): string {
    return this.prefixes[node]![3]!;
  }

  /** Cut `node` off from every other node and from the test. */
  cut(node: string): void {
    ip(["link", "set", this.ports.get(node)!, "down"]);
  }

  /** Reconnect `node`. */
  heal(node: string): void {
    ip(["link", "set", this.ports.get(node)!, "up"]);
  }

  /** Remove every namespace and the bridge (safe to call twice). */
  destroy(): void {
    for (const ns of this.namespaces.splice(0)) spawnSync("ip", ["netns", "del", ns]);
    spawnSync("ip", ["link", "del", this.bridge]);
  }
}
