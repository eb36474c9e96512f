/**
 * The real bash lease watchdog (bin/conclave-lease-watchdog), through LeaseWatchdog and, where
 * the agent's death must be simulated, spawned directly: it demotes the listed masters in the
 * listed order when renewals stop or its input ends, and never after `idle` or `exit`; a demote
 * that outruns its budget is killed.
 */
import test, { type ExecutionContext } from "ava";
import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  LeaseWatchdog,
  type WatchdogDemotion,
  watchdogScriptPath,
} from "../../../src/process/lease-watchdog.ts";
import { alive, waitFor } from "../../support/poll.ts";

/** A services_dir whose `demote` scripts log `SERVICE begin|end EPOCH REASON`. */
function servicesDir(
  t: ExecutionContext,
  services: Record<string, { exit?: number; sleep?: number }>,
): { dir: string; lines: () => string[]; pid: (service: string) => number } {
  const root = mkdtempSync(join(tmpdir(), "conclave-watchdog-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const log = join(root, "log");
  writeFileSync(log, "");
  const dir = join(root, "services");
  for (const [name, o] of Object.entries(services)) {
    mkdirSync(join(dir, name), { recursive: true });
    const line = (phase: string) =>
      `echo "$CONCLAVE_SERVICE ${phase} $CONCLAVE_EPOCH $CONCLAVE_REASON" >> '${log}'`;
    writeFileSync(
      join(dir, name, "demote"),
      `#!/bin/sh\necho $$ > '${join(root, `${name}.pid`)}'\n${line("begin")}\n${o.sleep ? `sleep ${o.sleep}\n` : ""}${line("end")}\nexit ${o.exit ?? 0}\n`,
    );
    chmodSync(join(dir, name, "demote"), 0o755);
  }
  return {
    dir,
    pid: (service) => Number(readFileSync(join(root, `${service}.pid`), "utf8")),
    lines: () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l !== ""),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function watchdog(t: ExecutionContext, dir: string) {
  const demoted: WatchdogDemotion[] = [];
  const w = new LeaseWatchdog(dir, (d) => demoted.push(d));
  t.teardown(async () => {
    await w.stop();
    if (w.pid !== undefined && alive(w.pid)) process.kill(w.pid, "SIGKILL");
  });
  return { w, demoted };
}

/** The script spawned directly, so the test can end its input as a dying agent would. */
function spawnRaw(dir: string) {
  const child = spawn("bash", [watchdogScriptPath(), dir], { stdio: ["pipe", "pipe", "pipe"] });
  let out = "";
  child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
  child.stderr.resume();
  // "close", not "exit": a process can exit before its last stdout bytes have been read.
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  return {
    child,
    exited,
    stdout: () => out,
    send: (line: string) => child.stdin.write(`${line}\n`),
  };
}

test("renewals that stop: the listed masters are demoted in the listed order with their epochs, reason lease-expired", async (t) => {
  const s = servicesDir(t, { cache: {}, db: { exit: 4 }, web: {} });
  const { w, demoted } = watchdog(t, s.dir);
  w.renew(300, 1000, [
    { service: "cache", epoch: 3 },
    { service: "db", epoch: 1 },
  ]);
  await waitFor(t, "two demotions", () => demoted.length >= 2);
  t.deepEqual(demoted, [
    { service: "cache", epoch: 3, exitCode: 0 },
    { service: "db", epoch: 1, exitCode: 4 },
  ]);
  t.deepEqual(s.lines(), [
    "cache begin 3 lease-expired",
    "cache end 3 lease-expired",
    "db begin 1 lease-expired",
    "db end 1 lease-expired",
  ]);
  // Once it has demoted, it waits without a deadline: nothing runs twice. Shown by a later
  // lease for another master: once its demotion is in, nothing else came before it.
  w.renew(50, 1000, [{ service: "web", epoch: 9 }]);
  await waitFor(t, "the later demotion", () => demoted.length >= 3);
  t.deepEqual(demoted.slice(2), [{ service: "web", epoch: 9, exitCode: 0 }]);
  t.deepEqual(s.lines().slice(4), ["web begin 9 lease-expired", "web end 9 lease-expired"]);
});

test("a master with no demote script is reported demoted with exit code 0", async (t) => {
  const s = servicesDir(t, { db: {} });
  const { w, demoted } = watchdog(t, s.dir);
  w.renew(100, 1000, [
    { service: "noscript", epoch: 2 },
    { service: "db", epoch: 5 },
  ]);
  await waitFor(t, "two demotions", () => demoted.length >= 2);
  t.deepEqual(demoted, [
    { service: "noscript", epoch: 2, exitCode: 0 },
    { service: "db", epoch: 5, exitCode: 0 },
  ]);
  t.deepEqual(s.lines(), ["db begin 5 lease-expired", "db end 5 lease-expired"]);
});

test("renewing every 100 ms with a 300 ms deadline demotes nothing", async (t) => {
  const s = servicesDir(t, { db: {} });
  const { w, demoted } = watchdog(t, s.dir);
  const masters = [{ service: "db", epoch: 1 }];
  w.renew(300, 1000, masters);
  for (let i = 0; i < 10; i++) {
    await sleep(100);
    w.renew(300, 1000, masters);
  }
  // A later lease for another master that is let expire: its demotion is the first one.
  w.renew(50, 1000, [{ service: "marker", epoch: 9 }]);
  await waitFor(t, "the marker's demotion", () => demoted.length >= 1);
  t.deepEqual(demoted, [{ service: "marker", epoch: 9, exitCode: 0 }]);
  t.deepEqual(s.lines(), []);
});

test("end of input without exit (the agent died) demotes at once with reason agent-gone, then exits", async (t) => {
  const s = servicesDir(t, { app: {}, db: {} });
  const raw = spawnRaw(s.dir);
  t.teardown(() => {
    if (raw.child.exitCode === null) raw.child.kill("SIGKILL");
  });
  // A long deadline: only the end of input can explain a demotion within this test.
  raw.send("lease 60000 1000 app=2 db=7");
  raw.child.stdin.end();
  const code = await raw.exited;
  t.is(code, 0);
  t.deepEqual(s.lines(), [
    "app begin 2 agent-gone",
    "app end 2 agent-gone",
    "db begin 7 agent-gone",
    "db end 7 agent-gone",
  ]);
  t.is(raw.stdout(), "demoted app 2 0\ndemoted db 7 0\n");
});

test("idle then end of input demotes nothing", async (t) => {
  const s = servicesDir(t, { db: {} });
  const raw = spawnRaw(s.dir);
  t.teardown(() => {
    if (raw.child.exitCode === null) raw.child.kill("SIGKILL");
  });
  raw.send("lease 60000 1000 db=1");
  raw.send("idle");
  raw.child.stdin.end();
  t.is(await raw.exited, 0);
  t.deepEqual(s.lines(), []);
  t.is(raw.stdout(), "");
});

test("a lease line listing no masters is like idle", async (t) => {
  const s = servicesDir(t, { db: {} });
  const raw = spawnRaw(s.dir);
  t.teardown(() => {
    if (raw.child.exitCode === null) raw.child.kill("SIGKILL");
  });
  raw.send("lease 60000 1000 db=1");
  raw.send("lease 50 1000");
  // Pacing, not the check: the empty lease's 50 ms deadline passes before the marker's lease.
  await sleep(300);
  raw.send("lease 50 1000 marker=3");
  await waitFor(t, "the marker's demotion", () => raw.stdout() !== "");
  raw.child.stdin.end();
  t.is(await raw.exited, 0);
  t.is(raw.stdout(), "demoted marker 3 0\n");
  t.deepEqual(s.lines(), []);
});

test("stop() sends exit: the watchdog ends and demotes nothing", async (t) => {
  const s = servicesDir(t, { db: {} });
  const { w, demoted } = watchdog(t, s.dir);
  w.renew(60_000, 1000, [{ service: "db", epoch: 1 }]);
  await w.stop();
  await waitFor(t, "the watchdog to exit", () => !alive(w.pid!));
  await w.outputEnded;
  t.deepEqual(demoted, []);
  t.deepEqual(s.lines(), []);
});

test("a demote that outlasts its budget is killed (its end is never logged) and the next still runs", async (t) => {
  const s = servicesDir(t, { slow: { sleep: 0.8 }, db: {} });
  const { w, demoted } = watchdog(t, s.dir);
  w.renew(50, 200, [
    { service: "slow", epoch: 1 },
    { service: "db", epoch: 2 },
  ]);
  await waitFor(t, "two demotions", () => demoted.length >= 2);
  t.is(demoted[0]!.service, "slow");
  t.not(demoted[0]!.exitCode, 0);
  t.deepEqual(demoted[1], { service: "db", epoch: 2, exitCode: 0 });
  // Once the slow script's process is gone it can log nothing more; had the kill missed it, it
  // would live on until its `sleep 0.8` ends and then log its end.
  const slowPid = s.pid("slow");
  await waitFor(t, "the slow demote script to be gone", () => !alive(slowPid));
  t.deepEqual(s.lines(), [
    "slow begin 1 lease-expired",
    "db begin 2 lease-expired",
    "db end 2 lease-expired",
  ]);
});
