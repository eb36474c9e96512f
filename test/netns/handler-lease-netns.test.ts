/**
 * The handler lease across a real partition: every elector and member in its own network
 * namespace; the leader is cut off from every other node in the middle of a handler run. The
 * cut-off leader cannot confirm its leadership, so its run's lease runs out and the watchdog
 * kills it; the majority elects a new leader, which runs attempt 2 only after attempt 1's last
 * boot-clock stamp (test/support/handler-stamps.ts). Needs root and iproute2; skipped with
 * the reason otherwise.
 */
import test from "ava";
import { handlerLeaseMs, handlerRerunWaitMs } from "../../src/contract/handler-lease.ts";
import { eventsAfter as events, until } from "../support/cluster-wait.ts";
import { attemptGap, firstAttemptTicking, writeStampHandler } from "../support/handler-stamps.ts";
import { NetnsLab, netnsUnavailable } from "../support/netns-lab.ts";
import { ProcessCluster } from "../support/process-cluster.ts";

const why = netnsUnavailable();
if (why !== null) console.log(`handler-lease-netns: skipped: ${why}`);
const maybe = why === null ? test.serial : test.skip;

maybe(
  `a leader cut off during a handler run: attempt 2 starts only after attempt 1 was killed (netns)${why ? ` — skipped: ${why}` : ""}`,
  async (t) => {
    const electors = ["e1", "e2", "e3"];
    const lab = new NetnsLab([...electors, "m1"]);
    t.teardown(() => lab.destroy());
    const c = await ProcessCluster.create({
      names: electors,
      members: ["m1"],
      logLevel: "warn",
      nodeHosts: lab.hosts,
      spawnPrefix: lab.prefixes,
    });
    t.teardown(() => c.destroy());
    const { handler, log } = writeStampHandler(c.dir, "m1");
    c.setElectorExtra(
      `handlers:\n  - name: slow\n    on: [member-down]\n    run: ${handler}\n    timeout: 30s\n`,
    );
    c.startAll();
    const leader = await c.waitForLeader();
    const survivor = electors.find((n) => n !== leader)!;
    const api = c.client(survivor, 10_000);
    t.teardown(() => api.close());
    await until("member up", async () =>
      (await api.members()).members.some((m) => m.status === "up") ? true : undefined,
    );

    await c.kill("m1");
    await until("attempt 1 running", async () => (firstAttemptTicking(log) ? true : undefined));
    lab.cut(leader);
    const ok = await until(
      "attempt 2 succeeded on the majority's leader",
      async () => {
        // m1's pair: another member declared down meanwhile has runs of its own.
        const evs = await events(api);
        const down = evs.find((e) => e.type === "member-down" && e.member === "m1");
        return evs.find((e) => e.type === "handler-succeeded" && e.details.event === down?.id);
      },
      30_000,
    );
    t.is(ok.details.attempt, 2);
    const { lastOfFirst, firstOfSecond, firstEnded } = attemptGap(log, Number(ok.details.event));
    t.true(lastOfFirst < firstOfSecond, "attempt 1 was still running when attempt 2 started");
    t.false(firstEnded, "attempt 1 was killed");
    t.log(
      `lease L = ${handlerLeaseMs(1000)} ms, wait = ${handlerRerunWaitMs(1000)} ms, gap = ${(firstOfSecond - lastOfFirst) * 10} ms`,
    );
    lab.heal(leader);
  },
);
