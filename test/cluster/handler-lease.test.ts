/**
 * Multi-process, the handler lease: a leader paused with SIGSTOP in the middle of a handler run
 * (longer than the next leader's wait) must not let its run overlap the next leader's attempt
 * 2. The handler (test/support/handler-stamps.ts) writes boot-clock stamps every 20 ms: attempt 2's first stamp must come after attempt 1's last, and attempt 1 never ends
 * by itself (its lease watchdog killed it). A leader killed outright closes the watchdog's
 * control pipe, which kills the run at once. The figures (L, the wait, the gap) are logged.
 */
import { readFileSync } from "node:fs";
import test, { type ExecutionContext } from "ava";
import { handlerLeaseMs, handlerRerunWaitMs } from "../../src/contract/handler-lease.ts";
import { clusterUp, eventsAfter as events, handlerYaml, until } from "../support/cluster-wait.ts";
import { attemptGap, firstAttemptTicking, writeStampHandler } from "../support/handler-stamps.ts";

const ELECTION_MS = 1000;

/** The run's fault on the leader: paused past the next leader's wait, or killed outright. */
type LeaderFault = "pause" | "kill";

test.serial(
  "SIGSTOP of the leader during a handler run: attempt 2 starts only after attempt 1 was killed",
  (t) => leaderFaultDuringRun(t, "pause"),
);

test.serial(
  "kill -9 of the leader during a handler run: its watchdog sees the pipe close and kills attempt 1 before attempt 2",
  (t) => leaderFaultDuringRun(t, "kill"),
);

async function leaderFaultDuringRun(t: ExecutionContext, fault: LeaderFault): Promise<void> {
  let log = "";
  const { c, api, leader } = await clusterUp(
    t,
    { names: ["e1", "e2", "e3"], members: ["m1", "m2"], logLevel: "warn" },
    {
      client: "not-leader",
      prepare: (c) => {
        const stamps = writeStampHandler(c.dir, "m1");
        log = stamps.log;
        c.setElectorExtra(
          handlerYaml({ name: "slow", on: ["member-down"], run: stamps.handler, timeout: "30s" }),
        );
      },
    },
  );

  await c.kill("m1");
  await until("attempt 1 running", async () => (firstAttemptTicking(log) ? true : undefined));
  if (fault === "pause") c.signal(leader, "SIGSTOP");
  else await c.kill(leader);
  const ok = await until(
    "attempt 2 succeeded on the next leader",
    async () => {
      // m1's pair: another member declared down meanwhile has runs of its own.
      const evs = await events(api);
      const down = evs.find((e) => e.type === "member-down" && e.member === "m1");
      return evs.find((e) => e.type === "handler-succeeded" && e.details.event === down?.id);
    },
    30_000,
  );
  // Resume the old leader only after attempt 2 is done: it must record nothing more, and its
  // (long dead) run must not come back.
  if (fault === "pause") c.signal(leader, "SIGCONT");
  t.is(ok.details.attempt, 2);
  const { lastOfFirst, firstOfSecond, firstEnded } = attemptGap(log, Number(ok.details.event));
  if (!(lastOfFirst < firstOfSecond) || firstEnded) {
    // What happened, for the failure below: the log and the handler's stamps.
    t.log(
      (await events(api))
        .map((e) => `${e.id} ${e.type} ${e.member ?? ""} ${JSON.stringify(e.details)}`)
        .join("\n"),
    );
    t.log(readFileSync(log, "utf8"));
  }
  t.true(lastOfFirst < firstOfSecond, "attempt 1 was still running when attempt 2 started");
  t.false(firstEnded, "attempt 1 was killed by its lease watchdog");
  t.log(
    `${fault}: lease L = ${handlerLeaseMs(ELECTION_MS)} ms, new leader's wait = ${handlerRerunWaitMs(ELECTION_MS)} ms,` +
      ` gap from attempt 1's last stamp to attempt 2's first = ${(firstOfSecond - lastOfFirst) * 10} ms`,
  );
  // A later event through the same path shows the resumed old leader recorded nothing: m2's
  // run is attempt 1 and the log holds exactly two starts for m1's event.
  await c.kill("m2");
  await until(
    "m2's handler-succeeded",
    async () => {
      const evs = await events(api);
      const down2 = evs.find((e) => e.type === "member-down" && e.member === "m2");
      return down2 && evs.some((e) => e.type === "handler-succeeded" && e.details.event === down2.id)
        ? true
        : undefined;
    },
    30_000,
  );
  const evs = await events(api);
  const down1 = evs.find((e) => e.type === "member-down" && e.member === "m1")!;
  t.deepEqual(
    evs
      .filter((e) => e.type === "handler-started" && e.details.event === down1.id)
      .map((e) => e.details.attempt),
    [1, 2],
  );
  t.is(evs.filter((e) => e.type === "handler-succeeded" && e.details.event === down1.id).length, 1);
}
