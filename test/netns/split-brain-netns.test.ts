/**
 * Split brain, for real: every elector and member runs in its own Linux network namespace, and
 * the master of a service is cut off from the electors (alone, or together with the Raft leader),
 * paused with SIGSTOP, or killed with `kill -9`, over and over. After every trial the scripts'
 * own CLOCK_MONOTONIC records must show that the old master's `demote` finished before the new
 * master's `promote` began: never two masters of one service at the same moment.
 *
 * Needs root and iproute2 (CI runs as root and installs iproute2); skipped with the reason
 * otherwise. `CONCLAVE_SPLIT_TRIALS` sets the number of trials (default 20).
 */
import { join } from "node:path";
import test from "ava";
import type { ControlApi } from "../../src/control/control-types.ts";
import { eventsAfter, until } from "../support/cluster-wait.ts";
import { NetnsLab, netnsUnavailable } from "../support/netns-lab.ts";
import { ProcessCluster } from "../support/process-cluster.ts";
import {
  FAST_MASTER_TIMING,
  masterSpans,
  overlaps,
  readRecords,
  writeService,
} from "../support/service-fixtures.ts";

const why = netnsUnavailable();
if (why !== null) console.log(`split-brain-netns: skipped: ${why}`);
const maybe = why === null ? test.serial : test.skip;

type Fault = "cut master" | "cut master and leader" | "SIGSTOP" | "kill -9";
const PLAN: Fault[] = ["cut master", "SIGSTOP", "kill -9", "cut master and leader"];

maybe(
  `no two masters across partitions, pauses and kills (netns)${why ? ` — skipped: ${why}` : ""}`,
  async (t) => {
    const trials = Number(process.env.CONCLAVE_SPLIT_TRIALS) || 20;
    const electors = ["e1", "e2", "e3"];
    const members = ["m1", "m2", "m3"];
    const lab = new NetnsLab([...electors, ...members]);
    t.teardown(() => lab.destroy());
    const c = await ProcessCluster.create({
      names: electors,
      members,
      logLevel: "warn",
      ...FAST_MASTER_TIMING,
      nodeHosts: lab.hosts,
      spawnPrefix: lab.prefixes,
    });
    t.teardown(() => c.destroy());
    const log = join(c.dir, "scripts.log");
    for (const m of members) {
      const dir = join(c.dir, m, "services");
      writeService({ member: m, service: "db", servicesDir: dir, log });
      c.setMemberExtra(m, `services_dir: ${dir}`);
    }
    c.startAll();
    await c.waitForLeader();
    const clients = new Map<string, ControlApi>(electors.map((e) => [e, c.client(e, 3000)]));
    t.teardown(() => {
      for (const a of clients.values()) a.close();
    });
    /** Ask each elector in turn (some may be cut off). */
    const ask = async <T>(fn: (api: ControlApi) => Promise<T>): Promise<T> => {
      let last: unknown;
      for (const api of clients.values()) {
        try {
          return await fn(api);
        } catch (e) {
          last = e;
        }
      }
      throw last;
    };
    const masterOf = async () => {
      const { members: ms } = await ask((a) => a.members());
      return ms.find((m) => m.services.db?.master)?.name;
    };
    const promoteDone = (member: string, epoch: number) =>
      readRecords(log).some(
        (r) => r.member === member && r.script === "promote" && r.phase === "end" && r.epoch === epoch,
      );
    const allUp = async () => {
      const { members: ms } = await ask((a) => a.members());
      return members.every((n) => ms.find((m) => m.name === n)?.status === "up") ? true : undefined;
    };
    await until("members up", allUp, 30_000);
    let master = await until("a first master", masterOf, 30_000);
    await until(
      "its promote done",
      async () =>
        readRecords(log).some((r) => r.member === master && r.script === "promote" && r.phase === "end")
          ? true
          : undefined,
      30_000,
    );
    const failovers: number[] = [];
    /** Per trial: time from the old master's demote end to the new master's promote begin. */
    const gaps: string[] = [];
    for (let i = 0; i < trials; i++) {
      const fault = PLAN[i % PLAN.length]!;
      const leader = (await ask((a) => a.status())).leader;
      const before = (await ask((a) => eventsAfter(a))).at(-1)?.id ?? 0;
      const proc = c.nodes.get(master)!.proc!;
      const t0 = performance.now();
      switch (fault) {
        case "cut master":
          lab.cut(master);
          break;
        case "cut master and leader":
          lab.cut(master);
          lab.cut(leader);
          break;
        case "SIGSTOP":
          proc.kill("SIGSTOP");
          break;
        case "kill -9":
          await c.kill(master);
          break;
      }
      const old = master;
      const promoted = await until(
        `trial ${i + 1} (${fault} of ${old}): a new master`,
        async () => {
          const e = (await ask((a) => eventsAfter(a, before))).find(
            (x) => x.type === "master-promoted" && x.member !== old,
          );
          return e && promoteDone(e.member!, e.details.epoch as number) ? e : undefined;
        },
        30_000,
      );
      failovers.push(performance.now() - t0);
      master = promoted.member!;
      // Heal, and let the old master come back as a healthy standby.
      switch (fault) {
        case "cut master":
          lab.heal(old);
          break;
        case "cut master and leader":
          lab.heal(old);
          lab.heal(leader);
          break;
        case "SIGSTOP":
          proc.kill("SIGCONT");
          break;
        case "kill -9":
          c.start(old);
          break;
      }
      await until(`trial ${i + 1}: everyone up again`, allUp, 30_000);
      const records = readRecords(log);
      const bad = overlaps(masterSpans(records, "db"));
      t.deepEqual(
        bad,
        [],
        `trial ${i + 1} (${fault}): ${records.map((r) => `${r.ns} ${r.member} ${r.script} ${r.phase} e${r.epoch} ${r.reason}`).join("\n")}`,
      );
      if (bad.length > 0) return;
      // The issue's own wording: the old master's demote finished before the new master's
      // promote began.
      const epoch = promoted.details.epoch as number;
      const begin = records.find(
        (r) => r.member === master && r.script === "promote" && r.phase === "begin" && r.epoch === epoch,
      )!;
      const demoteEnd = records
        .filter((r) => r.member === old && r.script === "demote" && r.phase === "end" && r.ns < begin.ns)
        .at(-1);
      t.truthy(demoteEnd, `trial ${i + 1} (${fault}): ${old} finished demote before ${master} began promote`);
      if (demoteEnd) {
        gaps.push(`${fault}: ${Number(begin.ns - demoteEnd.ns) / 1e6} ms (${demoteEnd.reason || "planned"})`);
      }
    }
    const spans = masterSpans(readRecords(log), "db");
    t.is(gaps.length, trials);
    t.log(gaps.join("\n"));
    failovers.sort((a, b) => a - b);
    t.log(
      `${trials} trials, ${spans.length} master spans, no overlap; failover ms: median ${Math.round(failovers[Math.floor(failovers.length / 2)]!)}, max ${Math.round(failovers.at(-1)!)}`,
    );
  },
);
