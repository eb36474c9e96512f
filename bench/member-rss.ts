/**
 * Memory of a member with services and checks: three electors and one member agent (built
 * JavaScript, started with MEMBER_V8_FLAGS as deploy/systemd/conclave-member.service does)
 * whose services_dir holds N services with promote/demote (so the lease watchdog
 * runs) and M file_exists checks. After the member is master of every service and has run
 * for a while, prints the RSS of the agent and of its watchdog, from /proc.
 *
 *   npm run bench:member-rss -- [--services 3] [--checks 5] [--seconds 20]
 */
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { ELECTOR_V8_FLAGS, MEMBER_V8_FLAGS } from "../src/dev/node-v8-flags.ts";
import { until } from "../test/support/cluster-wait.ts";
import { ProcessCluster } from "../test/support/process-cluster.ts";
import { writeService } from "../test/support/service-fixtures.ts";
import { parseBenchFlags } from "./bench-flags.ts";

const flags = parseBenchFlags({
  program: "bench:member-rss",
  usage: "usage: npm run bench:member-rss -- [--services N] [--checks N] [--seconds N]",
  argv: process.argv.slice(2),
  strings: ["services", "checks", "seconds"],
});
const services = flags.intFlag("services", flags.str("services"), 3, 0);
const checks = flags.intFlag("checks", flags.str("checks"), 5, 0);
const seconds = flags.intFlag("seconds", flags.str("seconds"), 20, 1);

/** VmRSS of a pid in MB, from /proc. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** Child pids of `pid` (one level). */
function children(pid: number): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

const c = await ProcessCluster.create({
  names: ["e1", "e2", "e3"],
  members: ["m1"],
  nodeFlags: { elector: ELECTOR_V8_FLAGS, member: MEMBER_V8_FLAGS },
  runtime: "dist",
  logLevel: "warn",
});
try {
  const dir = join(c.dir, "m1", "services");
  for (let i = 0; i < services; i++) {
    writeService({
      member: "m1",
      service: `svc${i}`,
      servicesDir: dir,
      log: join(c.dir, "scripts.log"),
      priority: i,
    });
  }
  const checkYaml = Array.from(
    { length: checks },
    (_, i) => `  - name: file${i}\n    type: file_exists\n    path: ${c.tokenFile}\n    interval: 1s\n`,
  ).join("");
  c.setMemberExtra("m1", `services_dir: ${dir}\n${checks > 0 ? `checks:\n${checkYaml}` : ""}`);
  c.startAll();
  const leader = await c.waitForLeader();
  const api = c.client(leader, 10_000);
  await until(
    "every service mastered on m1",
    async () => {
      const m = (await api.members()).members.find((x) => x.name === "m1");
      return m && Object.values(m.services).filter((s) => s.master).length === services ? true : undefined;
    },
    60_000,
  );
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const pid = c.nodes.get("m1")!.proc!.pid!;
  const agent = rssMb(pid);
  const watchdogs = children(pid)
    .filter((p) => readFileSync(`/proc/${p}/cmdline`, "utf8").includes("conclave-lease-watchdog"))
    .map(rssMb);
  const e1 = rssMb(c.nodes.get("e1")!.proc!.pid!);
  api.close();
  console.log(
    `member agent (${services} services, ${checks} checks, after ${seconds} s): RSS ${agent.toFixed(1)} MB`,
  );
  console.log(
    `lease watchdog: ${watchdogs.length ? `RSS ${watchdogs.map((w) => w.toFixed(1)).join(", ")} MB` : "not running"}`,
  );
  console.log(`an elector, for comparison: RSS ${e1.toFixed(1)} MB`);
} finally {
  await c.destroy();
}
