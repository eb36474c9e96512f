/**
 * One handler attempt (src/handler-process.ts) against DESIGN.md's "Handler contract", with
 * real processes through /bin/sh: the CONCLAVE_* environment and the stdin JSON reach the
 * handler; exit codes, timeouts and kill() give the right outcome and end the whole process
 * group (grandchildren included); hostile output (huge, binary) is truncated and made safe;
 * start failures are reported, never thrown. A fake spawner checks the seam itself.
 *
 * No timing thresholds are asserted; deadlines below only keep a broken runner from hanging
 * the test.
 */
import { EventEmitter } from "node:events";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import test, { type ExecutionContext } from "ava";
import fc from "fast-check";
import {
  describeOutcome,
  HANDLER_ENV_NAMES,
  type HandlerAttemptOptions,
  HandlerAttemptOptionsError,
  type HandlerOutcome,
  type HandlerRun,
  HandlerSpawnError,
  handlerEnvironment,
  OUTPUT_TAIL_BYTES,
  OutputTail,
  outputText,
  type ProcessSpawner,
  runHandlerAttempt,
  type SpawnedProcess,
  type SpawnRequest,
  succeeded,
} from "../../../src/process/process-group.ts";

// ---------------------------------------------------------------- helpers

/** A fresh directory, removed after the test. */
function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-handler-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Write an executable shell script. */
function script(dir: string, name: string, body: string, mode = 0o755): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, mode);
  return path;
}

/** The usual options: a shell command, a sample environment, a generous timeout. */
function shell(command: string, extra: Partial<HandlerAttemptOptions> = {}): HandlerAttemptOptions {
  return {
    run: { kind: "shell", command },
    env: {},
    stdin: "{}",
    timeoutMs: 30_000,
    ...extra,
  };
}

/** The run's outcome, or a failure after `ms` so a broken runner cannot hang the suite. */
async function outcomeOf(run: HandlerRun, ms = 30_000): Promise<HandlerOutcome> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`handler run did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([run.done, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Poll until `check` is true; false if it never was within `ms`. */
async function eventually(check: () => boolean, ms = 10_000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return check();
}

/**
 * Whether process `pid` is dead: no such process, or a zombie not yet reaped (a zombie runs
 * nothing; in a container whose init does not reap, orphans stay zombies).
 */
function isDead(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ESRCH";
  }
  try {
    // Field 3 of /proc/PID/stat, after the parenthesised command name, is the state.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return true;
  }
}

/** Wait for a file the handler writes to exist and hold a pid. */
async function pidFrom(t: ExecutionContext, path: string): Promise<number> {
  t.true(
    await eventually(() => existsSync(path) && /^\d+\n/.test(readFileSync(path, "utf8"))),
    `no pid in ${path}`,
  );
  return Number(readFileSync(path, "utf8").trim());
}

/** Asserts the outcome's kind and narrows it. */
function expectKind<K extends HandlerOutcome["kind"]>(
  t: ExecutionContext,
  outcome: HandlerOutcome,
  kind: K,
): Extract<HandlerOutcome, { kind: K }> {
  if (outcome.kind !== kind) {
    t.fail(`expected ${kind}, got ${JSON.stringify(outcome)}`);
    throw new Error("unreachable");
  }
  return outcome as Extract<HandlerOutcome, { kind: K }>;
}

/** Every character a JSON event and a terminal can carry: no control characters but \n and \t. */
function assertSafeText(t: ExecutionContext, text: string): void {
  t.is(JSON.parse(JSON.stringify({ text })).text, text);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const control = (c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f);
    if (control) t.fail(`control character U+${c.toString(16).padStart(4, "0")} at ${i}`);
  }
  // TextDecoder never yields lone surrogates; check anyway, since JSON consumers choke on them.
  t.false(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text));
}

const SAMPLE_ENV = {
  event: { id: 42, type: "member-down" as const },
  handler: "dns",
  attempt: 2,
  term: 7,
  fence: { term: 7, index: 45 },
  member: "web2",
  memberAddress: "10.0.0.2:7400",
  service: "pg",
  cluster: "prod",
};

// ---------------------------------------------------------------- environment

test("handlerEnvironment sets exactly DESIGN.md's variables, empty strings for absent values", (t) => {
  t.deepEqual(handlerEnvironment(SAMPLE_ENV), {
    CONCLAVE_EVENT: "member-down",
    CONCLAVE_EVENT_ID: "42",
    CONCLAVE_TERM: "7",
    CONCLAVE_FENCE: "7:45",
    CONCLAVE_ATTEMPT: "2",
    CONCLAVE_HANDLER: "dns",
    CONCLAVE_MEMBER: "web2",
    CONCLAVE_MEMBER_ADDRESS: "10.0.0.2:7400",
    CONCLAVE_SERVICE: "pg",
    CONCLAVE_CLUSTER: "prod",
  });
  const sparse = handlerEnvironment({
    event: { id: 3, type: "leader-elected" },
    handler: "log",
    attempt: 1,
    term: 1,
    fence: { term: 1, index: 4 },
    member: null,
  });
  t.deepEqual(Object.keys(sparse).sort(), [...HANDLER_ENV_NAMES].sort());
  t.is(sparse.CONCLAVE_MEMBER, "");
  t.is(sparse.CONCLAVE_MEMBER_ADDRESS, "");
  t.is(sparse.CONCLAVE_SERVICE, "");
  t.is(sparse.CONCLAVE_CLUSTER, "");
});

test("handlerEnvironment refuses numbers that would make a meaningless fence or attempt", (t) => {
  t.throws(() => handlerEnvironment({ ...SAMPLE_ENV, attempt: 0 }), {
    instanceOf: HandlerAttemptOptionsError,
  });
  t.throws(() => handlerEnvironment({ ...SAMPLE_ENV, fence: { term: 1, index: 1.5 } }), {
    instanceOf: HandlerAttemptOptionsError,
  });
  t.throws(() => handlerEnvironment({ ...SAMPLE_ENV, term: Number.NaN }), {
    instanceOf: HandlerAttemptOptionsError,
  });
});

test("the CONCLAVE_* variables and the stdin JSON reach the handler, over the inherited environment", async (t) => {
  const dir = tempDir(t);
  const handler = script(dir, "record", `env > "$RECORD_DIR/env"\ncat > "$RECORD_DIR/stdin"`);
  const stdin = JSON.stringify({
    event: { id: 42, type: "member-down" },
    members: [{ name: "web2", x: "é ✓" }],
  });
  const run = runHandlerAttempt({
    run: { kind: "argv", argv: [handler] },
    env: {
      ...handlerEnvironment({ ...SAMPLE_ENV, cluster: null }),
      RECORD_DIR: dir,
    },
    // A stale value in the leader's environment must be replaced, not inherited.
    baseEnv: {
      PATH: process.env.PATH,
      CONCLAVE_CLUSTER: "stale",
      INHERITED: "yes",
    },
    stdin,
    timeoutMs: 30_000,
  });
  const outcome = await outcomeOf(run);
  t.true(succeeded(outcome), JSON.stringify(outcome));

  const env = new Map(
    readFileSync(join(dir, "env"), "utf8")
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)] as const),
  );
  const expected = handlerEnvironment({ ...SAMPLE_ENV, cluster: null });
  for (const name of HANDLER_ENV_NAMES) t.is(env.get(name), expected[name], name);
  t.is(env.get("CONCLAVE_CLUSTER"), "");
  t.is(env.get("INHERITED"), "yes");
  t.is(readFileSync(join(dir, "stdin"), "utf8"), stdin);
});

// ---------------------------------------------------------------- exits

test("exit code 0 is success, and stdout and stderr are both kept", async (t) => {
  const outcome = expectKind(
    t,
    await outcomeOf(runHandlerAttempt(shell("echo to-out; echo to-err >&2"))),
    "exited",
  );
  t.is(outcome.code, 0);
  t.is(outcome.signal, null);
  t.true(succeeded(outcome));
  t.true(outcome.output.text.includes("to-out\n"));
  t.true(outcome.output.text.includes("to-err\n"));
  t.false(outcome.output.truncated);
  t.is(outcome.output.totalBytes, "to-out\nto-err\n".length);
  t.true(outcome.durationMs >= 0);
});

test("a non-zero exit is reported with its code and is not success", async (t) => {
  const outcome = expectKind(t, await outcomeOf(runHandlerAttempt(shell("echo failing; exit 3"))), "exited");
  t.is(outcome.code, 3);
  t.false(succeeded(outcome));
  t.is(outcome.output.text, "failing\n");
  t.is(describeOutcome(outcome), "exited with code 3");
});

test("a handler ended by a signal nobody here sent exits with that signal", async (t) => {
  const outcome = expectKind(t, await outcomeOf(runHandlerAttempt(shell("kill -KILL $$"))), "exited");
  t.is(outcome.code, null);
  t.is(outcome.signal, "SIGKILL");
  t.false(succeeded(outcome));
});

test("processes a handler leaves behind in its group are ended when it exits", async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, "bg.pid");
  const run = runHandlerAttempt(shell(`sleep 60 & echo $! > "${pidFile}"; exit 0`, { killGraceMs: 300 }));
  const outcome = await outcomeOf(run);
  t.true(succeeded(outcome), JSON.stringify(outcome));
  const bg = await pidFrom(t, pidFile);
  t.true(await eventually(() => isDead(bg)), `background process ${bg} still alive`);
});

// ---------------------------------------------------------------- timeout and kill

test("a timeout ends the whole process group, grandchild included", async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, "grandchild.pid");
  const run = runHandlerAttempt(
    shell(`sleep 60 & echo $! > "${pidFile}"; sleep 60`, {
      timeoutMs: 1000,
      killGraceMs: 500,
    }),
  );
  t.not(run.pid, undefined);
  const outcome = expectKind(t, await outcomeOf(run), "timeout");
  t.false(succeeded(outcome));
  const grandchild = await pidFrom(t, pidFile);
  t.true(await eventually(() => isDead(grandchild)), `grandchild ${grandchild} still alive`);
  t.true(await eventually(() => isDead(run.pid!)), "handler still alive");
});

test("kill() mid-run ends the handler and the outcome is killed with the reason", async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, "grandchild.pid");
  const run = runHandlerAttempt(shell(`echo started; sleep 60 & echo $! > "${pidFile}"; sleep 60`));
  const grandchild = await pidFrom(t, pidFile);
  run.kill("lost leadership");
  const outcome = expectKind(t, await outcomeOf(run), "killed");
  t.is(outcome.reason, "lost leadership");
  t.is(outcome.output.text, "started\n");
  t.is(describeOutcome(outcome), "killed: lost leadership");
  t.true(await eventually(() => isDead(grandchild)), `grandchild ${grandchild} still alive`);
  // A second kill after the end changes nothing.
  run.kill("again");
  t.is((await run.done).kind, "killed");
});

test("kill() sends SIGTERM first, so a handler can clean up within the grace", async (t) => {
  const dir = tempDir(t);
  const marker = join(dir, "cleaned-up");
  const ready = join(dir, "ready");
  const run = runHandlerAttempt(
    shell(`trap 'echo yes > "${marker}"; exit 1' TERM; touch "${ready}"; while :; do sleep 0.05; done`),
  );
  t.true(await eventually(() => existsSync(ready)));
  run.kill("lost leadership");
  expectKind(t, await outcomeOf(run), "killed");
  t.true(existsSync(marker), "the TERM trap did not run");
});

test("kill() with graceMs 0 sends SIGKILL at once: no trap runs", async (t) => {
  const dir = tempDir(t);
  const marker = join(dir, "cleaned-up");
  const ready = join(dir, "ready");
  const run = runHandlerAttempt(
    shell(`trap 'echo yes > "${marker}"; exit 1' TERM; touch "${ready}"; while :; do sleep 0.05; done`),
  );
  t.true(await eventually(() => existsSync(ready)));
  run.kill("lost leadership", { graceMs: 0 });
  expectKind(t, await outcomeOf(run), "killed");
  await new Promise((r) => setTimeout(r, 200));
  t.false(existsSync(marker), "SIGTERM was sent before SIGKILL");
});

test("a handler that ignores SIGTERM is SIGKILLed after the grace", async (t) => {
  const dir = tempDir(t);
  const ready = join(dir, "ready");
  // An ignored signal stays ignored in the children too, so `sleep` survives SIGTERM as well.
  const run = runHandlerAttempt(shell(`trap '' TERM; touch "${ready}"; sleep 60`, { killGraceMs: 200 }));
  t.true(await eventually(() => existsSync(ready)));
  run.kill("shutting down");
  const outcome = expectKind(t, await outcomeOf(run, 20_000), "killed");
  t.is(outcome.reason, "shutting down");
  t.true(await eventually(() => isDead(run.pid!)));
});

// ---------------------------------------------------------------- output

/**
 * A full garbage collection: `--expose-gc` set at run time, `gc` taken from a new context.
 * Memory is measured after collecting, so that only what the runner retains counts, not pipe
 * chunks already dropped and awaiting collection.
 */
const collectGarbage: () => void = (() => {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
})();

// Serial, so no concurrent test's memory is counted (AVA runs serial tests first).
test.serial(
  "50 MB of output keeps only the last 4 KiB, counts every byte, and does not bloat the leader",
  async (t) => {
    const size = 50 * 1024 * 1024;
    const retained = (): number => {
      collectGarbage();
      const m = process.memoryUsage();
      return m.heapUsed + m.arrayBuffers;
    };
    const before = retained();
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, retained() - before);
    }, 20);
    const run = runHandlerAttempt(shell(`head -c ${size} /dev/zero | tr '\\000' a; printf END`));
    const outcome = expectKind(t, await outcomeOf(run, 60_000), "exited");
    clearInterval(sampler);
    peak = Math.max(peak, retained() - before);
    t.is(outcome.code, 0);
    t.true(outcome.output.truncated);
    t.is(outcome.output.totalBytes, size + 3);
    t.is(outcome.output.text, `${"a".repeat(OUTPUT_TAIL_BYTES - 3)}END`);
    // Keeping the output would retain up to 50 MB; the runner keeps 4 KiB and the chunk in hand.
    t.true(peak < 10 * 1024 * 1024, `retained memory grew by ${(peak / 1024 / 1024).toFixed(1)} MB`);
    t.log(`peak retained growth: ${(peak / 1024 / 1024).toFixed(2)} MB`);
  },
);

test("random binary output becomes JSON-safe text", async (t) => {
  const outcome = expectKind(
    t,
    await outcomeOf(runHandlerAttempt(shell("head -c 100000 /dev/urandom; printf '\\000\\001\\033\\377'"))),
    "exited",
  );
  t.is(outcome.code, 0);
  t.true(outcome.output.truncated);
  t.is(outcome.output.totalBytes, 100_004);
  t.true(outcome.output.text.length > 0);
  assertSafeText(t, outcome.output.text);
});

test("control characters and invalid UTF-8 are replaced exactly; CRLF becomes LF", async (t) => {
  const outcome = expectKind(
    t,
    await outcomeOf(runHandlerAttempt(shell("printf 'a\\000b\\033[31mc\\tö\\377\\r\\nd\\re\\n'"))),
    "exited",
  );
  t.is(outcome.output.text, "a\uFFFDb\uFFFD[31mc\tö\uFFFD\nd\uFFFDe\n");
  t.false(outcome.output.truncated);
  assertSafeText(t, outcome.output.text);
});

test("outputText drops a character cut by truncation instead of showing a replacement", (t) => {
  const bytes = Buffer.from("é✓z", "utf8").subarray(1); // a stray continuation byte, then ✓z
  t.is(outputText(bytes, true), "✓z");
  t.is(outputText(bytes, false), "\uFFFD✓z");
  t.is(outputText(Buffer.from([0xc2, 0x85, 0x7f]), false), "\uFFFD\uFFFD"); // C1 NEL and DEL
});

test("OutputTail keeps exactly the last bytes of any sequence of writes", (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 16 }),
      fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }),
      (capacity, chunks) => {
        const tail = new OutputTail(capacity);
        for (const c of chunks) tail.write(c);
        const all = Buffer.concat(chunks);
        return (
          tail.bytes().equals(all.subarray(Math.max(0, all.length - capacity))) &&
          tail.totalBytes === all.length &&
          tail.truncated === all.length > capacity
        );
      },
    ),
  );
  t.pass();
});

// ---------------------------------------------------------------- start failures

test("a missing executable gives spawn-failed naming the path", async (t) => {
  const path = "/nonexistent/conclave-handler-xyz";
  const run = runHandlerAttempt({
    run: { kind: "argv", argv: [path, "x"] },
    env: {},
    stdin: "{}",
    timeoutMs: 30_000,
  });
  const outcome = expectKind(t, await outcomeOf(run), "spawn-failed");
  t.true(outcome.error instanceof HandlerSpawnError);
  t.is(outcome.error.code, "ENOENT");
  t.is(outcome.error.path, path);
  t.true(outcome.error.message.includes(path), outcome.error.message);
  t.false(succeeded(outcome));
});

test("a non-executable file run as argv gives spawn-failed EACCES naming the path", async (t) => {
  const path = script(tempDir(t), "not-executable", "exit 0", 0o644);
  const run = runHandlerAttempt({
    run: { kind: "argv", argv: [path] },
    env: {},
    stdin: "{}",
    timeoutMs: 30_000,
  });
  const outcome = expectKind(t, await outcomeOf(run), "spawn-failed");
  t.is(outcome.error.code, "EACCES");
  t.true(outcome.error.message.includes(path), outcome.error.message);
});

test("through the shell, a missing or non-executable file exits 127 or 126, as sh reports it", async (t) => {
  const path = script(tempDir(t), "not-executable", "exit 0", 0o644);
  const missing = expectKind(
    t,
    await outcomeOf(runHandlerAttempt(shell("/nonexistent/conclave-xyz"))),
    "exited",
  );
  t.is(missing.code, 127);
  t.true(missing.output.text.includes("/nonexistent/conclave-xyz"));
  const notExec = expectKind(t, await outcomeOf(runHandlerAttempt(shell(path))), "exited");
  t.is(notExec.code, 126);
  t.true(notExec.output.text.includes(path));
});

test("a missing working directory gives spawn-failed naming the directory", async (t) => {
  const cwd = join(tempDir(t), "gone");
  const outcome = expectKind(t, await outcomeOf(runHandlerAttempt(shell("exit 0", { cwd }))), "spawn-failed");
  t.true(outcome.error.message.includes(`working directory ${cwd}`), outcome.error.message);
});

test("an argument Node refuses outright gives spawn-failed, not a throw", async (t) => {
  const run = runHandlerAttempt({
    run: { kind: "argv", argv: ["/bin/echo", "a\0b"] },
    env: {},
    stdin: "",
    timeoutMs: 1000,
  });
  t.is(run.pid, undefined);
  expectKind(t, await outcomeOf(run), "spawn-failed");
});

test("invalid options are a caller's bug and throw at once", (t) => {
  t.throws(() => runHandlerAttempt(shell("exit 0", { timeoutMs: 0 })), {
    instanceOf: HandlerAttemptOptionsError,
  });
  t.throws(() => runHandlerAttempt(shell("exit 0", { killGraceMs: -1 })), {
    instanceOf: HandlerAttemptOptionsError,
  });
  t.throws(
    () =>
      runHandlerAttempt({
        run: { kind: "argv", argv: [] },
        env: {},
        stdin: "",
        timeoutMs: 1000,
      }),
    {
      instanceOf: HandlerAttemptOptionsError,
    },
  );
});

// ---------------------------------------------------------------- stdin

test("a handler that never reads a large stdin does not crash the runner", async (t) => {
  const stdin = JSON.stringify({ members: "x".repeat(8 * 1024 * 1024) });
  const quick = expectKind(t, await outcomeOf(runHandlerAttempt(shell("exit 4", { stdin }))), "exited");
  t.is(quick.code, 4);
  const closesIt = expectKind(
    t,
    await outcomeOf(runHandlerAttempt(shell("exec 0<&-; sleep 0.2; echo done", { stdin }))),
    "exited",
  );
  t.is(closesIt.code, 0);
  t.is(closesIt.output.text, "done\n");
});

// ---------------------------------------------------------------- the spawning seam

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
  runHandlerAttempt(
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
  runHandlerAttempt({
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
  const run = runHandlerAttempt(
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
  const run = runHandlerAttempt(shell("x", { spawner: fake.spawner, killGraceMs: 50 }));
  run.kill("lost leadership");
  t.deepEqual(fake.process.signals, ["SIGTERM"]);
  t.true(await eventually(() => fake.process.signals.length === 2, 5000));
  t.deepEqual(fake.process.signals, ["SIGTERM", "SIGKILL"]);
  let settled = false;
  void run.done.then(() => {
    settled = true;
  });
  await new Promise((r) => setTimeout(r, 20));
  t.false(settled, "settled before the process exited");
  fake.process.end(null, "SIGKILL");
  const outcome = expectKind(t, await outcomeOf(run), "killed");
  t.is(outcome.reason, "lost leadership");
});

test("through the seam: a timeout wins over a later kill", async (t) => {
  const fake = fakeSpawner();
  const run = runHandlerAttempt(shell("x", { spawner: fake.spawner, timeoutMs: 20, killGraceMs: 10_000 }));
  t.true(await eventually(() => fake.process.signals.length === 1, 5000));
  t.deepEqual(fake.process.signals, ["SIGTERM"]);
  run.kill("lost leadership", { graceMs: 0 }); // brings the SIGKILL forward; the cause stays
  t.deepEqual(fake.process.signals, ["SIGTERM", "SIGKILL"]);
  fake.process.end(null, "SIGKILL");
  expectKind(t, await outcomeOf(run), "timeout");
});

test("through the seam: kill() after the handler exited, while its output drains, changes nothing", async (t) => {
  const fake = fakeSpawner();
  const run = runHandlerAttempt(shell("x", { spawner: fake.spawner }));
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
    await outcomeOf(runHandlerAttempt(shell("x", { spawner: failing.spawner }))),
    "spawn-failed",
  );
  t.is(outcome.error.code, "EACCES");
  t.is(outcome.error.path, "/bin/sh");

  const fine = fakeSpawner();
  const run = runHandlerAttempt(shell("x", { spawner: fine.spawner }));
  await new Promise((r) => setImmediate(r));
  fine.process.emit("error", new Error("kill failed"));
  fine.process.end(0, null);
  t.true(succeeded(await outcomeOf(run)));
});
