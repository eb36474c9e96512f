/**
 * One run of a process group (src/process/process-run.ts) with real processes through
 * /bin/sh, against the handler contract (docs/handler-contract.md): the CONCLAVE_* environment and the stdin
 * JSON reach the process; exit codes, timeouts and kill() give the right outcome and end the
 * whole process group (grandchildren included); hostile output (huge, binary) is truncated and
 * made safe; start failures are reported, never thrown. The seam itself is tested with a fake
 * spawner in process-run-seam.test.ts.
 *
 * No timing thresholds are asserted; deadlines below only keep a broken runner from hanging
 * the test.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import test from "ava";
import { HANDLER_ENV_NAMES, handlerEnvironment } from "../../../src/contract/handler-env.ts";
import { OUTPUT_TAIL_BYTES } from "../../../src/process/output-tail.ts";
import { runProcessGroup } from "../../../src/process/process-run.ts";
import { RunOptionsError } from "../../../src/process/run-options.ts";
import { describeOutcome, succeeded } from "../../../src/process/run-outcome.ts";
import { SpawnError } from "../../../src/process/spawn-error.ts";
import { SAMPLE_ENV_INPUT } from "../../support/handler-env.ts";
import {
  assertSafeText,
  eventually,
  expectKind,
  isDead,
  outcomeOf,
  pidFrom,
  script,
  shell,
  tempDir,
} from "./helpers.ts";

// ---------------------------------------------------------------- environment and stdin

test("the CONCLAVE_* variables and the stdin JSON reach the handler, over the inherited environment", async (t) => {
  const dir = tempDir(t);
  const handler = script(dir, "record", `env > "$RECORD_DIR/env"\ncat > "$RECORD_DIR/stdin"`);
  const stdin = JSON.stringify({
    event: { id: 42, type: "member-down" },
    members: [{ name: "web2", x: "é ✓" }],
  });
  const run = runProcessGroup({
    run: { kind: "argv", argv: [handler] },
    env: {
      ...handlerEnvironment({ ...SAMPLE_ENV_INPUT, cluster: null }),
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
  const expected = handlerEnvironment({ ...SAMPLE_ENV_INPUT, cluster: null });
  for (const name of HANDLER_ENV_NAMES) t.is(env.get(name), expected[name], name);
  t.is(env.get("CONCLAVE_CLUSTER"), "");
  t.is(env.get("INHERITED"), "yes");
  t.is(readFileSync(join(dir, "stdin"), "utf8"), stdin);
});

// ---------------------------------------------------------------- exits

test("exit code 0 is success, and stdout and stderr are both kept", async (t) => {
  const before = performance.now();
  const outcome = expectKind(
    t,
    await outcomeOf(runProcessGroup(shell("echo to-out; echo to-err >&2"))),
    "exited",
  );
  const wall = performance.now() - before;
  t.is(outcome.code, 0);
  t.is(outcome.signal, null);
  t.true(succeeded(outcome));
  t.true(outcome.output.text.includes("to-out\n"));
  t.true(outcome.output.text.includes("to-err\n"));
  t.false(outcome.output.truncated);
  t.is(outcome.output.totalBytes, "to-out\nto-err\n".length);
  // The run's clock timed a real process: more than nothing, and no more than the wall time
  // around it (the duration is clamped at 0, so ">= 0" alone could never fail).
  t.true(outcome.durationMs > 0 && outcome.durationMs <= wall, `${outcome.durationMs} of ${wall} ms`);
});

test("a non-zero exit is reported with its code and is not success", async (t) => {
  const outcome = expectKind(t, await outcomeOf(runProcessGroup(shell("echo failing; exit 3"))), "exited");
  t.is(outcome.code, 3);
  t.false(succeeded(outcome));
  t.is(outcome.output.text, "failing\n");
  t.is(describeOutcome(outcome), "exited with code 3");
});

test("a handler ended by a signal nobody here sent exits with that signal", async (t) => {
  const outcome = expectKind(t, await outcomeOf(runProcessGroup(shell("kill -KILL $$"))), "exited");
  t.is(outcome.code, null);
  t.is(outcome.signal, "SIGKILL");
  t.false(succeeded(outcome));
});

test("processes a handler leaves behind in its group are ended when it exits", async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, "bg.pid");
  const run = runProcessGroup(shell(`sleep 60 & echo $! > "${pidFile}"; exit 0`, { killGraceMs: 300 }));
  const outcome = await outcomeOf(run);
  t.true(succeeded(outcome), JSON.stringify(outcome));
  const bg = await pidFrom(t, pidFile);
  t.true(await eventually(() => isDead(bg)), `background process ${bg} still alive`);
});

// ---------------------------------------------------------------- timeout and kill

test("a timeout ends the whole process group, grandchild included", async (t) => {
  const dir = tempDir(t);
  const pidFile = join(dir, "grandchild.pid");
  const run = runProcessGroup(
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
  const run = runProcessGroup(shell(`echo started; sleep 60 & echo $! > "${pidFile}"; sleep 60`));
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
  const run = runProcessGroup(
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
  const run = runProcessGroup(
    shell(`trap 'echo yes > "${marker}"; exit 1' TERM; touch "${ready}"; while :; do sleep 0.05; done`),
  );
  t.true(await eventually(() => existsSync(ready)));
  run.kill("lost leadership", { graceMs: 0 });
  expectKind(t, await outcomeOf(run), "killed");
  // The trap's write is the shell's own builtin: once the shell is dead, no write can follow.
  t.true(await eventually(() => isDead(run.pid!)), "handler still alive");
  t.false(existsSync(marker), "SIGTERM was sent before SIGKILL");
});

test("a handler that ignores SIGTERM is SIGKILLed after the grace", async (t) => {
  const dir = tempDir(t);
  const ready = join(dir, "ready");
  // An ignored signal stays ignored in the children too, so `sleep` survives SIGTERM as well.
  const run = runProcessGroup(shell(`trap '' TERM; touch "${ready}"; sleep 60`, { killGraceMs: 200 }));
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
    const run = runProcessGroup(shell(`head -c ${size} /dev/zero | tr '\\000' a; printf END`));
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
    await outcomeOf(runProcessGroup(shell("head -c 100000 /dev/urandom; printf '\\000\\001\\033\\377'"))),
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
    await outcomeOf(runProcessGroup(shell("printf 'a\\000b\\033[31mc\\tö\\377\\r\\nd\\re\\n'"))),
    "exited",
  );
  t.is(outcome.output.text, "a\uFFFDb\uFFFD[31mc\tö\uFFFD\nd\uFFFDe\n");
  t.false(outcome.output.truncated);
  assertSafeText(t, outcome.output.text);
});

// ---------------------------------------------------------------- start failures

test("a missing executable gives spawn-failed naming the path", async (t) => {
  const path = "/nonexistent/conclave-handler-xyz";
  const run = runProcessGroup({
    run: { kind: "argv", argv: [path, "x"] },
    env: {},
    stdin: "{}",
    timeoutMs: 30_000,
  });
  const outcome = expectKind(t, await outcomeOf(run), "spawn-failed");
  t.true(outcome.error instanceof SpawnError);
  t.is(outcome.error.code, "ENOENT");
  t.is(outcome.error.path, path);
  t.true(outcome.error.message.includes(path), outcome.error.message);
  t.false(succeeded(outcome));
});

test("a non-executable file run as argv gives spawn-failed EACCES naming the path", async (t) => {
  const path = script(tempDir(t), "not-executable", "exit 0", 0o644);
  const run = runProcessGroup({
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
    await outcomeOf(runProcessGroup(shell("/nonexistent/conclave-xyz"))),
    "exited",
  );
  t.is(missing.code, 127);
  t.true(missing.output.text.includes("/nonexistent/conclave-xyz"));
  const notExec = expectKind(t, await outcomeOf(runProcessGroup(shell(path))), "exited");
  t.is(notExec.code, 126);
  t.true(notExec.output.text.includes(path));
});

test("a missing working directory gives spawn-failed naming the directory", async (t) => {
  const cwd = join(tempDir(t), "gone");
  const outcome = expectKind(t, await outcomeOf(runProcessGroup(shell("exit 0", { cwd }))), "spawn-failed");
  t.true(outcome.error.message.includes(`working directory ${cwd}`), outcome.error.message);
});

test("an argument Node refuses outright gives spawn-failed, not a throw", async (t) => {
  const run = runProcessGroup({
    run: { kind: "argv", argv: ["/bin/echo", "a\0b"] },
    env: {},
    stdin: "",
    timeoutMs: 1000,
  });
  t.is(run.pid, undefined);
  expectKind(t, await outcomeOf(run), "spawn-failed");
});

test("invalid options are a caller's bug and throw at once", (t) => {
  t.throws(() => runProcessGroup(shell("exit 0", { timeoutMs: 0 })), {
    instanceOf: RunOptionsError,
  });
  t.throws(() => runProcessGroup(shell("exit 0", { killGraceMs: -1 })), {
    instanceOf: RunOptionsError,
  });
  t.throws(
    () =>
      runProcessGroup({
        run: { kind: "argv", argv: [] },
        env: {},
        stdin: "",
        timeoutMs: 1000,
      }),
    {
      instanceOf: RunOptionsError,
    },
  );
});

// ---------------------------------------------------------------- stdin

test("a handler that never reads a large stdin does not crash the runner", async (t) => {
  const stdin = JSON.stringify({ members: "x".repeat(8 * 1024 * 1024) });
  const quick = expectKind(t, await outcomeOf(runProcessGroup(shell("exit 4", { stdin }))), "exited");
  t.is(quick.code, 4);
  const closesIt = expectKind(
    t,
    await outcomeOf(runProcessGroup(shell("exec 0<&-; sleep 0.2; echo done", { stdin }))),
    "exited",
  );
  t.is(closesIt.code, 0);
  t.is(closesIt.output.text, "done\n");
});
