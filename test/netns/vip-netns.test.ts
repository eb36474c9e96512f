/**
 * The virtual IP follows the master: members in their own network namespaces run a service
 * whose `promote` / `demote` are `handlers/vip up` / `down`. While the master's agent is killed
 * and the role moves, the address is sampled in every namespace every 20 ms: it must never sit
 * in two at once, and it must end up on the new master only.
 *
 * Needs root and iproute2; skipped with the reason otherwise.
 */
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import type { ControlApi } from "../../src/control/control-types.ts";
import { until } from "../support/cluster-wait.ts";
import { NetnsLab, netnsUnavailable } from "../support/netns-lab.ts";
import { ProcessCluster } from "../support/process-cluster.ts";
import { FAST_MASTER_TIMING } from "../support/service-fixtures.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const why = netnsUnavailable();
if (why !== null) console.log(`vip-netns: skipped: ${why}`);
const maybe = why === null ? test.serial : test.skip;

/** How the scripts run the handler: the built shim when there is a build, else the sources. */
function vipCommand(): string {
  return existsSync(join(ROOT, "dist/handlers/src/vip.js"))
    ? join(ROOT, "handlers/vip")
    : `"${process.execPath}" --import=tsx ${join(ROOT, "handlers/src/vip.ts")}`;
}

maybe(
  `the virtual IP moves with the master and is never in two namespaces${why ? ` — skipped: ${why}` : ""}`,
  async (t) => {
    const members = ["m1", "m2"];
    const lab = new NetnsLab(["e1", "e2", "e3", ...members]);
    t.teardown(() => lab.destroy());
    const vip = `${lab.hosts.e1!.split(".").slice(0, 3).join(".")}.200`;
    const c = await ProcessCluster.create({
      names: ["e1", "e2", "e3"],
      members,
      logLevel: "warn",
      ...FAST_MASTER_TIMING,
      masterLease: "3s",
      nodeHosts: lab.hosts,
      spawnPrefix: lab.prefixes,
    });
    t.teardown(() => c.destroy());
    for (const m of members) {
      const dir = join(c.dir, m, "services", "web");
      mkdirSync(dir, { recursive: true });
      for (const verb of ["promote", "demote"] as const) {
        const file = join(dir, verb);
        writeFileSync(
          file,
          `#!/bin/sh\nexec ${vipCommand()} ${verb === "promote" ? "up" : "down"} --address ${vip}/24 --interface eth0 --arp-count 1\n`,
        );
        chmodSync(file, 0o755);
      }
      c.setMemberExtra(m, `services_dir: ${join(c.dir, m, "services")}`);
    }
    const holders = () =>
      members.filter((m) =>
        execFileSync("ip", ["-n", lab.namespaceOf(m), "-4", "addr", "show", "dev", "eth0"], {
          encoding: "utf8",
        }).includes(`inet ${vip}/`),
      );
    c.startAll();
    const leader = await c.waitForLeader();
    const api: ControlApi = c.client(leader, 10_000);
    t.teardown(() => api.close());
    const first = await until(
      "the VIP on one member",
      async () => {
        const h = holders();
        return h.length === 1 ? h[0] : undefined;
      },
      30_000,
    );
    const { members: view } = await api.members();
    t.true(view.find((m) => m.name === first)!.services.web!.master, "the VIP is on the master");

    // Sample every 20 ms while the master's agent is killed and the role moves.
    const samples: string[][] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        samples.push(holders());
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await c.kill(first);
    const second = await until(
      "the VIP on the other member",
      async () => {
        const h = holders();
        return h.length === 1 && h[0] !== first ? h[0] : undefined;
      },
      30_000,
    );
    sampling = false;
    await sampler;
    t.is(samples.filter((s) => s.length > 1).length, 0, "never on two members");
    t.true(
      samples.some((s) => s.length === 0),
      "it left the old master before it came up on the new one",
    );
    t.log(`${samples.length} samples; none with two holders; VIP moved ${first} -> ${second}`);
    const { members: after } = await api.members();
    t.true(after.find((m) => m.name === second)!.services.web!.master);
  },
);
