/**
 * The process-group runner through its spawning seam (src/process/process-spawner.ts), with a
 * fake process instead of a real one: the exact spawn request, stdin, output and clock, the
 * signal sequence of kill() and timeout, and the order of events the run's phases rely on
 * (an error before spawn, a kill after the exit, a kill before the spawn is confirmed).
 */
import { EventEmitter } from "node:events";
import { PassThrough } from "node:stream";
import test from "ava";
import { runProcessGroup } from "../../../src/process/process-run.ts";
import type { ProcessSpawner, SpawnedProcess, SpawnRequest } from "../../../src/process/process-spawner.ts";
import { succeeded } from "../../../src/process/run-outcome.ts";
import { eventually, expectKind, outcomeOf, shell } from "./helpers.ts";

/** A process that does nothing until told; records the signals sent to its group. */
class FakeProcess extends EventEmitter implements SpawnedProcess {
  readonly pid = 4242;
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly signals: (NodeJS.Signals | 0)[] = [];
  alive = true;
  signalGroup(signal: NodeJS.Signals | 0): boolean {
    if (signal !== 0) this.signals.push(signal);
    return this.alive;
  }
  /** The main process ends and its pipes close, as Node reports it. */
  end(code: number | null, signal: NodeJS.Signals | null): void {
    this.alive = false;
    this.stdout.end();
    this.stderr.end();
    this.emit("exit", code, signal);
    this.emit("close", code, signal);
  }
}

/** A spawner handing out one {@link FakeProcess} and keeping the request. */
function fakeSpawner(): {
  spawner: ProcessSpawner;
  requests: SpawnRequest[];
  process: FakeProcess;
} {
  const process = new FakeProcess();
  const requests: SpawnRequest[] = [];
  return {
    process,
    requests,
    spawner: {
      spawn(request) {
        requests.push(request);
        queueMicrotask(() => process.emit("spawn"));
        return process;
      },
    },
  };
}

test("the spawner gets /bin/sh -c for a shell command and the argv as is, with the full environment", (t) => {
  const shellFake = fakeSpawner();
  runProcessGroup(
    shell("echo hi", {
      spawner: shellFake.spawner,
      env: { CONCLAVE_EVENT: "member-up" },
      baseEnv: { A: "1" },
    }),
  ).kill("done");
  shellFake.process.end(null, "SIGTERM");
  t.deepEqual(shellFake.requests, [
    {
      file: "/bin/sh",
      args: ["-c", "echo hi"],
      env: { A: "1", CONCLAVE_EVENT: "member-up" },
      cwd: undefined,
    },
  ]);

  const argvFake = fakeSpawner();
  runProcessGroup({
    run: { kind: "argv", argv: ["/usr/bin/handler", "--flag", "x y"] },
    env: {},
    baseEnv: {},
    stdin: "{}",
    timeoutMs: 1000,
    cwd: "/tmp",
    spawner: argvFake.spawner,
  }).kill("done");
  argvFake.process.end(null, "SIGTERM");
  t.deepEqual(argvFake.requests, [
    { file: "/usr/bin/handler", args: ["--flag", "x y"], env: {}, cwd: "/tmp" },
  ]);
});

test("through the seam: stdin is written and closed, output is collected, the clock times the run", async (t) => {
  const fake = fakeSpawner();
  let clock = 1000;
  const run = runProcessGroup(
    shell("x", {
      spawner: fake.spawner,
      stdin: '{"event":{}}',
      now: () => clock,
    }),
  );
  t.is(run.pid, 4242);
  t.is(run.started, 1000);
  let written = "";
  fake.process.stdin.on("data", (d: Buffer) => {
    written += d.toString();
  });
  await new Promise((r) => fake.process.stdin.on("end", r));
  t.is(written, '{"event":{}}');
  fake.process.stdout.write("out ");
  fake.process.stderr.write("err");
  await new Promise((r) => setImmediate(r));
  clock = 1250;
  fake.process.end(0, null);
  t.deepEqual(await outcomeOf(run), {
    kind: "exited",
    code: 0,
    signal: null,
    durationMs: 250,
    output: { text: "out err", truncated: false, totalBytes: 7 },
  });
  t.deepEqual(fake.process.signals, []);
});

test("through the seam: kill sends SIGTERM, then SIGKILL after the grace, and waits for the exit", async (t) => {
  const fake = fakeSpawner();
  const run = runProcessGroup(shell("x", { spawner: fake.spawner, killGraceMs: 50 }));
  // Registered first, so a settle at any moment before the exit lands before "exit" below.
  const order: string[] = [];
  void run.done.then(() => order.push("settled"));
  run.kill("lost leadership");
  t.deepEqual(fake.process.signals, ["SIGTERM"]);
  t.true(await eventually(() => fake.process.signals.length === 2, 5000));
  t.deepEqual(fake.process.signals, ["SIGTERM", "SIGKILL"]);
  order.push("exit");
  fake.process.end(null, "SIGKILL");
  const outcome = expectKind(t, await outcomeOf(run), "killed");
  t.is(outcome.reason, "lost leadership");
  t.deepEqual(order, ["exit", "settled"], "settled before the process exited");
});

test("through the seam: a timeout wins over a later kill", async (t) => {
  const fake = fakeSpawner();
  const run = runProcessGroup(shell("x", { spawner: fake.spawner, timeoutMs: 20, killGraceMs: 10_000 }));
  t.true(await eventually(() => fake.process.signals.length === 1, 5000));
  t.deepEqual(fake.process.signals, ["SIGTERM"]);
  run.kill("lost leadership", { graceMs: 0 }); // brings the SIGKILL forward; the cause stays
  t.deepEqual(fake.process.signals, ["SIGTERM", "SIGKILL"]);
  fake.process.end(null, "SIGKILL");
  expectKind(t, await outcomeOf(run), "timeout");
});

test("through the seam: kill() after the handler exited, while its output drains, changes nothing", async (t) => {
  const fake = fakeSpawner();
  const run = runProcessGroup(shell("x", { spawner: fake.spawner }));
  await new Promise((r) => setImmediate(r));
  fake.process.alive = false;
  fake.process.emit("exit", 0, null); // exited; stdout and stderr not closed yet
  run.kill("lost leadership");
  fake.process.end(0, null);
  t.true(succeeded(await outcomeOf(run)));
  t.deepEqual(fake.process.signals, [], "signalled a group that was already gone");
  run.kill("after the end"); // a no-op, not a throw
});

test("through the seam: an error before spawn is spawn-failed, one after is ignored", async (t) => {
  const failing = fakeSpawner();
  failing.spawner.spawn = (request) => {
    failing.requests.push(request);
    queueMicrotask(() =>
      failing.process.emit("error", Object.assign(new Error("spawn x EACCES"), { code: "EACCES" })),
    );
    return failing.process;
  };
  const outcome = expectKind(
    t,
    await outcomeOf(runProcessGroup(shell("x", { spawner: failing.spawner }))),
    "spawn-failed",
  );
  t.is(outcome.error.code, "EACCES");
  t.is(outcome.error.path, "/bin/sh");

  const fine = fakeSpawner();
  const run = runProcessGroup(shell("x", { spawner: fine.spawner }));
  await new Promise((r) => setImmediate(r));
  fine.process.emit("error", new Error("kill failed"));
  fine.process.end(0, null);
  t.true(succeeded(await outcomeOf(run)));
});

test("through the seam: a kill before the spawn is confirmed still ends as spawn-failed on an error", async (t) => {
  const failing = fakeSpawner();
  failing.spawner.spawn = (request) => {
    failing.requests.push(request);
    queueMicrotask(() =>
      failing.process.emit("error", Object.assign(new Error("spawn x ENOENT"), { code: "ENOENT" })),
    );
    return failing.process;
  };
  const run = runProcessGroup(shell("x", { spawner: failing.spawner }));
  run.kill("lost leadership"); // still spawning: the group is signalled, the phase stays spawning
  t.deepEqual(failing.process.signals, ["SIGTERM"]);
  const outcome = expectKind(t, await outcomeOf(run), "spawn-failed");
  t.is(outcome.error.code, "ENOENT");
  run.kill("after the end", { graceMs: 0 });
  t.deepEqual(failing.process.signals, ["SIGTERM"], "signalled after the run settled");
});

test("through the seam: stragglers left after the exit get SIGTERM, then SIGKILL, then the run ends", async (t) => {
  const fake = fakeSpawner();
  const run = runProcessGroup(shell("x", { spawner: fake.spawner, killGraceMs: 50 }));
  await new Promise((r) => setImmediate(r));
  // The main process exits and its pipes close, but its group still has members.
  fake.process.stdout.end();
  fake.process.stderr.end();
  fake.process.emit("exit", 0, null);
  fake.process.emit("close", 0, null);
  t.deepEqual(fake.process.signals, ["SIGTERM"]);
  const outcome = expectKind(t, await outcomeOf(run), "exited");
  t.is(outcome.code, 0);
  t.deepEqual(fake.process.signals, ["SIGTERM", "SIGKILL"]);
});
