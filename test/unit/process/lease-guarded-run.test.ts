/**
 * Handler runs under the real lease watchdog (`bin/conclave-lease-watchdog --run`), through the
 * real process-group runner: the program execs in place with its stdin, environment and exit
 * status; the whole group (a background child too) is killed when the deadline passes without
 * a renewal, or at once when the control pipe ends; renewals move the deadline; a run whose
 * deadline has passed never starts the program. Waits are on the boot clock the watchdog
 * reads, or on the run's end, never fixed sleeps.
 */
import test from "ava";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  bootClockCs,
  bootDeadlineCs,
  LEASE_EXPIRED_EXIT,
  leaseGuardedRun,
  renewalLine,
} from "../../../src/process/lease-watchdog.ts";
import { runProcessGroup } from "../../../src/process/process-run.ts";
import { alive, waitFor } from "../../support/poll.ts";

function tempDir(t: { teardown(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-guarded-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Start `command` guarded with a first deadline `ms` from now. */
function guarded(command: string, ms: number, stdin = "") {
  return runProcessGroup({
    run: leaseGuardedRun({ kind: "shell", command }, bootDeadlineCs(ms)),
    controlPipe: true,
    env: { CONCLAVE_EVENT_ID: "7" },
    stdin,
    timeoutMs: 60_000,
  });
}

test("the program execs in place: its stdin, environment, output and exit status are the run's", async (t) => {
  const run = guarded('read -r line; echo "got $line for $CONCLAVE_EVENT_ID"; exit 3', 10_000, "hello\n");
  const outcome = await run.done;
  t.like(outcome, { kind: "exited", code: 3, signal: null });
  t.is(outcome.kind === "exited" ? outcome.output.text : "", "got hello for 7\n");
});

test("no renewal: the whole group, a background child too, is killed at the deadline", async (t) => {
  const dir = tempDir(t);
  const childPid = join(dir, "child.pid");
  const firstDeadline = bootDeadlineCs(300);
  const run = runProcessGroup({
    run: leaseGuardedRun({ kind: "shell", command: `sleep 60 & echo $! > ${childPid}; wait` }, firstDeadline),
    controlPipe: true,
    env: {},
    stdin: "",
    timeoutMs: 60_000,
  });
  await waitFor(
    t,
    "the background child's pid",
    () => existsSync(childPid) && readFileSync(childPid, "utf8").trim() !== "",
  );
  const outcome = await run.done;
  t.like(outcome, { kind: "exited", code: null, signal: "SIGKILL" });
  t.true(bootClockCs() >= firstDeadline, "not before its deadline");
  t.false(alive(Number(readFileSync(childPid, "utf8"))), "the background child died with the group");
});

test("renewals move the deadline; when they stop, the run is killed at the last one", async (t) => {
  const run = guarded("sleep 60", 200);
  const firstDeadline = bootDeadlineCs(200);
  let last = firstDeadline;
  let ended = false;
  void run.done.then(() => (ended = true));
  // Renew 300 ms ahead every 100 ms until the boot clock is well past the first deadline.
  while (bootClockCs() <= firstDeadline + 30) {
    last = bootDeadlineCs(300);
    run.control(renewalLine(last));
    await new Promise((r) => setTimeout(r, 100));
  }
  t.false(ended, "alive past its first deadline: the renewals held it");
  const outcome = await run.done;
  t.like(outcome, { kind: "exited", signal: "SIGKILL" });
  t.true(bootClockCs() >= last - 1, "killed at the last deadline, not before");
});

test("the end of the control pipe (the leader died) kills the group at once", async (t) => {
  const dir = tempDir(t);
  const started = join(dir, "started");
  const run = guarded(`touch ${started}; sleep 60`, 60_000);
  await waitFor(t, "the program to start", () => existsSync(started));
  // What this process's death does to the pipe, without dying: close our end.
  (run as unknown as { child: { control: { destroy(): void } } }).child.control.destroy();
  const outcome = await run.done;
  t.like(outcome, { kind: "exited", signal: "SIGKILL" });
});

test("a run whose deadline has already passed never starts the program", async (t) => {
  const dir = tempDir(t);
  const marker = join(dir, "ran");
  const run = runProcessGroup({
    run: leaseGuardedRun({ kind: "shell", command: `touch ${marker}` }, bootClockCs() - 1),
    controlPipe: true,
    env: {},
    stdin: "",
    timeoutMs: 60_000,
  });
  const outcome = await run.done;
  t.like(outcome, { kind: "exited", code: LEASE_EXPIRED_EXIT });
  t.false(existsSync(marker));
  t.regex(outcome.kind === "exited" ? outcome.output.text : "", /lease had expired/);
});
