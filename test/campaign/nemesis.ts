/**
 * The nemesis's executor: runs a plan (nemesis-plan.ts) against a live ProcessCluster and the
 * check server, records every fault window on CLOCK_MONOTONIC (process.hrtime, the clock the
 * scripts' stamps use) for the checkers, and heals everything at the end.
 */
import type { ControlApi } from "../../src/control/control-types.ts";
import type { ProcessCluster } from "../support/process-cluster.ts";
import type { CheckServer } from "./check-server.ts";
import type { FaultWindow } from "./check-member-down.ts";
import { describeStep, type Plan, type Step } from "./nemesis-plan.ts";
import { readRuns } from "./recorder.ts";
import type { NetFaults } from "./netns-faults.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mono = () => process.hrtime.bigint();

/** What the executor needs. */
export interface NemesisTarget {
  readonly cluster: ProcessCluster;
  readonly checks: CheckServer;
  readonly electors: readonly string[];
  readonly members: readonly string[];
  /** The recorder's runs log (to catch a handler run in progress). */
  readonly runsLog: string;
  /** The name of the member check the nemesis breaks. */
  readonly checkName: string;
  /** Netns rounds only: the network faults (partitions, drops, delay and loss). */
  readonly net?: NetFaults;
}

/** What the nemesis did. */
export interface NemesisReport {
  readonly windows: FaultWindow[];
  /** Steps done, in words. */
  readonly done: string[];
  /** How many of each kind ran. */
  readonly counts: Record<string, number>;
  /** CLOCK_MONOTONIC ns of each fault on the elector that was leader at the time. */
  readonly leaderFaults: bigint[];
  /** Leader pauses that caught a handler run in progress / that found none in time. */
  readonly inRun: { hit: number; miss: number };
  /**
   * The network faults' windows (also in `windows`, as `pause`: the node is silent to some
   * peers), so that a checker judging the truth of a server (the DNS checker) can leave them out.
   */
  readonly netWindows: FaultWindow[];
}

/** Run the plan; resolves once both lanes are done and every fault is healed. */
export async function runNemesis(target: NemesisTarget, plan: Plan): Promise<NemesisReport> {
  const c = target.cluster;
  const report: NemesisReport = {
    windows: [],
    done: [],
    counts: {},
    leaderFaults: [],
    inRun: { hit: 0, miss: 0 },
    netWindows: [],
  };
  const role = (n: string): "elector" | "member" => (target.electors.includes(n) ? "elector" : "member");
  const down = new Set<string>(); // killed or stopped, not yet restarted
  const paused = new Set<string>();
  const holds = new Map<string, number>();
  const hold = (m: string, on: boolean) => {
    holds.set(m, (holds.get(m) ?? 0) + (on ? 1 : -1));
    target.checks.setFailing(m, (holds.get(m) ?? 0) > 0);
  };
  const clients = new Map<string, ControlApi>();
  const client = (e: string) => {
    let a = clients.get(e);
    if (!a) {
      a = c.client(e, 1000);
      clients.set(e, a);
    }
    return a;
  };
  /** Ask the first elector that answers (skipping the faulted ones). */
  const ask = async <T>(fn: (a: ControlApi) => Promise<T>): Promise<T | undefined> => {
    for (const e of target.electors) {
      if (down.has(e) || paused.has(e)) continue;
      try {
        return await fn(client(e));
      } catch {
        // the next one
      }
    }
    return undefined;
  };
  const leader = async () => (await ask((a) => a.status()))?.leader || undefined;
  const count = (s: Step) => {
    report.counts[s.kind] = (report.counts[s.kind] ?? 0) + 1;
    report.done.push(describeStep(s));
  };
  const window = (node: string, kind: FaultWindow["kind"], from: bigint, to: bigint) =>
    report.windows.push({ node, role: role(node), kind, from, to });

  const pause = async (node: string, ms: number) => {
    const from = mono();
    c.signal(node, "SIGSTOP");
    paused.add(node);
    await sleep(ms);
    c.signal(node, "SIGCONT");
    paused.delete(node);
    window(node, "pause", from, mono());
  };
  const kill = async (node: string, ms: number, graceful = false) => {
    const from = mono();
    if (graceful) await c.terminate(node);
    else await c.kill(node);
    down.add(node);
    await sleep(ms);
    c.start(node);
    down.delete(node);
    window(node, graceful ? "stop" : "kill", from, mono());
  };
  const noteLeaderFault = async (node: string) => {
    if (role(node) === "elector" && (await leader()) === node) report.leaderFaults.push(mono());
  };

  const everyone = [...target.electors, ...target.members];
  /** Apply a network fault for `ms`, undo it, and record a window on each of `marked`. */
  const netFault = async (marked: readonly string[], apply: () => void, undo: () => void, ms: number) => {
    const from = mono();
    apply();
    try {
      await sleep(ms);
    } finally {
      undo();
    }
    const to = mono();
    for (const node of new Set(marked)) {
      const w: FaultWindow = { node, role: role(node), kind: "pause", from, to };
      report.windows.push(w);
      report.netWindows.push(w);
    }
  };

  const t0 = Date.now();
  const waitUntil = async (at: number) => {
    const d = t0 + at - Date.now();
    if (d > 0) await sleep(d);
  };

  const processLane = async () => {
    for (const s of plan.process) {
      await waitUntil(s.at);
      switch (s.kind) {
        case "kill":
          await noteLeaderFault(s.node);
          await kill(s.node, s.downMs);
          break;
        case "pause":
          await noteLeaderFault(s.node);
          await pause(s.node, s.pauseMs);
          break;
        case "pause-leader-in-handler": {
          const deadline = Date.now() + 5000;
          let triggered = false;
          let caught = false;
          while (Date.now() < deadline && !caught) {
            const now = BigInt(Date.now()) * 1_000_000n; // the recorder stamps wall clock
            const open = readRuns(target.runsLog).find(
              (r) => r.end === null && r.effect === null && r.refused === null && now - r.last < 150_000_000n,
            );
            if (open) {
              const l = await leader();
              if (l && !down.has(l) && !paused.has(l)) {
                report.leaderFaults.push(mono());
                report.done.push(
                  `SIGSTOP ${l} (leader) during the run of event ${open.event} attempt ${open.attempt}`,
                );
                await pause(l, s.pauseMs);
                caught = true;
                report.inRun.hit++;
                break;
              }
            }
            if (!triggered && Date.now() > deadline - 4500) {
              // No run in progress: make one (a check failing on a member).
              triggered = true;
              hold(s.trigger, true);
              void sleep(1500).then(() => hold(s.trigger, false));
            }
            await sleep(20);
          }
          if (!caught) report.inRun.miss++;
          break;
        }
        case "restart-failing": {
          hold(s.member, true);
          // Until the failure is committed (or a while), so the restart meets a failing check.
          const until = Date.now() + 4000;
          while (Date.now() < until) {
            const ms = await ask((a) => a.members());
            if (ms?.members.find((m) => m.name === s.member)?.checks[target.checkName] === "failing") break;
            await sleep(100);
          }
          const before = (await ask((a) => a.events(0, "", 10_000)))?.eventsJson.length ?? 0;
          await kill(s.member, s.downMs, s.graceful);
          // Keep the application failing until the new agent has registered (so it registers
          // with a failing application), then a while more.
          const registered = Date.now() + 20_000;
          while (Date.now() < registered) {
            const evs = (await ask((a) => a.events(0, "", 10_000)))?.eventsJson ?? [];
            const again = evs.slice(before).some((j) => {
              const e = JSON.parse(j) as { type: string; member: string | null };
              return e.member === s.member && (e.type === "member-joined" || e.type === "member-up");
            });
            if (again) break;
            await sleep(200);
          }
          await sleep(s.failAfterMs);
          hold(s.member, false);
          break;
        }
        case "flap":
          break;
        case "partition":
        case "partition-leader":
        case "one-way":
        case "member-cut":
        case "netem": {
          const net = target.net;
          if (!net) throw new Error(`nemesis: ${s.kind} needs a netns round`);
          const l = await leader();
          const others = (n: string) => everyone.filter((x) => x !== n);
          if (s.kind === "partition") {
            const minority = [s.elector, ...s.members];
            const majority = everyone.filter((n) => !minority.includes(n));
            if (l === s.elector) report.leaderFaults.push(mono());
            // Marked: the minority, and the leader (whose view of the far side is lost).
            await netFault(
              [...minority, ...(l ? [l] : [])],
              () => net.cut(minority, majority),
              () => net.uncut(minority, majority),
              s.ms,
            );
          } else if (s.kind === "partition-leader") {
            if (!l) break; // no leader to isolate: counted, nothing done
            report.leaderFaults.push(mono());
            await netFault(
              [l],
              () => net.cut([l], others(l)),
              () => net.uncut([l], others(l)),
              s.ms,
            );
          } else if (s.kind === "one-way") {
            const node = s.node ?? l;
            if (!node) break;
            if (node === l) report.leaderFaults.push(mono());
            const pairs = others(node).map((o) => (s.inbound ? [o, node] : [node, o]) as [string, string]);
            await netFault(
              [node],
              () => pairs.forEach(([a, b]) => net.drop(a, b)),
              () => pairs.forEach(([a, b]) => net.undrop(a, b)),
              s.ms,
            );
          } else if (s.kind === "member-cut") {
            if (!l) break;
            // Marked: the member only; it is silent to the leader, which must declare it down.
            await netFault(
              [s.member],
              () => net.cut([s.member], [l]),
              () => net.uncut([s.member], [l]),
              s.ms,
            );
          } else {
            const o = { delayMs: s.delayMs, jitterMs: s.jitterMs, lossPct: s.lossPct, rateKbit: s.rateKbit };
            if (l && s.nodes.includes(l)) report.leaderFaults.push(mono());
            // Marked: the slowed nodes and the leader (a slow member is not silent, but may seem so).
            await netFault(
              [...s.nodes, ...(l ? [l] : [])],
              () => s.nodes.forEach((n) => net.slow(n, o)),
              () => s.nodes.forEach((n) => net.unslow(n)),
              s.ms,
            );
          }
          break;
        }
      }
      count(s);
    }
  };
  const checkLane = async () => {
    for (const s of plan.checks) {
      if (s.kind !== "flap") continue;
      await waitUntil(s.at);
      hold(s.member, true);
      await sleep(s.failMs);
      hold(s.member, false);
      count(s);
    }
  };
  try {
    await Promise.all([processLane(), checkLane()]);
  } finally {
    // Heal whatever is left (an exception half-way).
    for (const n of paused) c.signal(n, "SIGCONT");
    for (const n of down) c.start(n);
    target.checks.healAll();
    target.net?.healAll();
    for (const a of clients.values()) a.close();
  }
  return report;
}
