/**
 * Local checks (src/member/checks/: check-probes.ts, check-runner.ts) against docs/checks.md's
 * `checks:` section, with real resources: temp files, a real `sleep` process found through
 * /proc, a local http server, a TCP port and real commands through /bin/sh. Each type is shown
 * to pass and to fail. The runner's fall / rise hysteresis and the once-per-streak action
 * (counted through a file the action appends to) are driven with real checks.
 *
 * No timing thresholds are asserted; timeouts below only keep a broken check from hanging.
 */
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createTcpServer, type AddressInfo, type Server as TcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { runCheckOnce } from "../../../../src/member/checks/check-probes.ts";
import { CheckRunner } from "../../../../src/member/checks/check-runner.ts";
import type { CheckState } from "../../../../src/contract/check-state.ts";
import type { CheckCommon, CheckConfig, Run } from "../../../../src/config/node-config.ts";

const common: CheckCommon = {
  name: "t",
  intervalMs: 20,
  timeoutMs: 5000,
  fall: 1,
  rise: 1,
  action: null,
};

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "conclave-checks-"));
}

function listen<S extends HttpServer | TcpServer>(server: S): Promise<number> {
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port));
  });
}

function close(server: HttpServer | TcpServer): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

test("file_exists passes for an existing file and fails for a missing one", async (t) => {
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "present");
  writeFileSync(path, "x");
  const ok = await runCheckOnce({ ...common, type: "file_exists", path });
  t.true(ok.ok, ok.detail);
  const missing = await runCheckOnce({ ...common, type: "file_exists", path: join(dir, "absent") });
  t.false(missing.ok);
  t.regex(missing.detail, /ENOENT/);
});

test("file_contains passes only when the file holds the text", async (t) => {
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "f");
  writeFileSync(path, "alpha\nstatus=ready\nomega\n");
  const check = (contains: string, p = path): CheckConfig => ({
    ...common,
    type: "file_contains",
    path: p,
    contains,
  });
  t.true((await runCheckOnce(check("status=ready"))).ok);
  const not = await runCheckOnce(check("status=broken"));
  t.false(not.ok);
  t.regex(not.detail, /does not contain/);
  t.false((await runCheckOnce(check("status=ready", join(dir, "absent")))).ok);
});

test("process_running matches a real process by cmdline and path; a bogus one fails", async (t) => {
  // A unique argument so no other process on the machine can match.
  const arg = `30.${process.pid}${Math.floor(Math.random() * 1e6)}`;
  const child = spawn("sleep", [arg], { stdio: "ignore" });
  t.teardown(() => child.kill("SIGKILL"));
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  const check = (path: string | null, cmdline: string | null): CheckConfig => ({
    ...common,
    type: "process_running",
    path,
    cmdline,
  });
  const byCmdline = await runCheckOnce(check(null, `sleep ${arg}`));
  t.true(byCmdline.ok, byCmdline.detail);
  t.regex(byCmdline.detail, new RegExp(`process ${child.pid} `));
  const both = await runCheckOnce(check("/usr/bin/sleep", `sleep ${arg}`));
  t.true(both.ok, both.detail);
  // Both given: both must match.
  t.false((await runCheckOnce(check("/usr/bin/no-such-binary", `sleep ${arg}`))).ok);
  t.false((await runCheckOnce(check(null, `no-such-process-${arg}`))).ok);
  // Once it is gone, the same check fails.
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
  t.false((await runCheckOnce(check(null, `sleep ${arg}`))).ok);
});

test("http passes on the expected status and body; a wrong status or body fails", async (t) => {
  const server = createHttpServer((req, res) => {
    if (req.url === "/ok") res.writeHead(200).end("service is OK\n");
    else if (req.url === "/wrong") res.writeHead(200).end("degraded\n");
    else if (req.url === "/hang")
      return; // never answers
    else res.writeHead(500).end("OK but broken\n");
  });
  const port = await listen(server);
  t.teardown(() => {
    server.closeAllConnections();
    return close(server);
  });
  const check = (path: string, expect: string | null, status = 200, timeoutMs = 5000) =>
    runCheckOnce({
      ...common,
      timeoutMs,
      type: "http",
      url: `http://127.0.0.1:${port}${path}`,
      expect,
      status,
    });
  const ok = await check("/ok", "OK");
  t.true(ok.ok, ok.detail);
  t.true((await check("/ok", null)).ok);
  const bad = await check("/bad", "OK");
  t.false(bad.ok);
  t.regex(bad.detail, /status 500/);
  t.true((await check("/bad", "broken", 500)).ok);
  const wrong = await check("/wrong", "OK");
  t.false(wrong.ok);
  t.regex(wrong.detail, /body does not contain/);
  const hang = await check("/hang", null, 200, 200);
  t.false(hang.ok);
  t.regex(hang.detail, /timed out/);
});

test("tcp passes on a listening port and fails on a closed one", async (t) => {
  const server = createTcpServer((socket) => socket.destroy());
  const port = await listen(server);
  const ok = await runCheckOnce({ ...common, type: "tcp", address: `127.0.0.1:${port}` });
  t.true(ok.ok, ok.detail);
  await close(server);
  const closed = await runCheckOnce({ ...common, type: "tcp", address: `127.0.0.1:${port}` });
  t.false(closed.ok);
  t.regex(closed.detail, /ECONNREFUSED/);
});

test("command passes on exit 0 and fails otherwise; the detail is the last output line", async (t) => {
  const check = (run: Run, timeoutMs = 5000) => runCheckOnce({ ...common, timeoutMs, type: "command", run });
  t.true((await check({ kind: "argv", argv: ["true"] })).ok);
  t.false((await check({ kind: "argv", argv: ["false"] })).ok);
  const said = await check({ kind: "shell", command: "echo first; echo all good" });
  t.true(said.ok);
  t.is(said.detail, "all good");
  const failed = await check({ kind: "shell", command: "echo disk full >&2; exit 3" });
  t.false(failed.ok);
  t.regex(failed.detail, /code 3.*disk full/);
  const slow = await check({ kind: "shell", command: "sleep 30" }, 200);
  t.false(slow.ok);
  t.regex(slow.detail, /timed out/);
  const missing = await check({ kind: "argv", argv: ["/no/such/program"] });
  t.false(missing.ok);
});

test("the runner flips to failing only after `fall` failures and back after `rise` passes", async (t) => {
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "flag");
  const changes: CheckState[] = [];
  const runner = new CheckRunner({
    check: { ...common, fall: 3, rise: 2, type: "file_exists", path },
    onChange: (state) => changes.push(state),
  });
  t.is(runner.state, "pending"); // the documented initial state
  for (let i = 0; i < 2; i++) {
    t.false((await runner.runOnce()).ok);
    t.is(runner.state, "pending");
  }
  t.deepEqual(changes, []);
  await runner.runOnce();
  t.is(runner.state, "failing");
  t.deepEqual(changes, ["failing"]);
  await runner.runOnce(); // a further failure changes nothing
  t.deepEqual(changes, ["failing"]);
  writeFileSync(path, "");
  t.true((await runner.runOnce()).ok);
  t.is(runner.state, "failing");
  // A failure in between resets the pass count.
  rmSync(path);
  await runner.runOnce();
  writeFileSync(path, "");
  await runner.runOnce();
  t.is(runner.state, "failing");
  await runner.runOnce();
  t.is(runner.state, "passing");
  t.deepEqual(changes, ["failing", "passing"]);
  // Failures below `fall` after rising change nothing.
  rmSync(path);
  await runner.runOnce();
  await runner.runOnce();
  t.is(runner.state, "passing");
  t.deepEqual(changes, ["failing", "passing"]);
});

test("a fresh runner is pending until it first reaches `rise` passes or `fall` failures", async (t) => {
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, "flag");
  const fresh = () => {
    const changes: CheckState[] = [];
    const runner = new CheckRunner({
      check: { ...common, fall: 3, rise: 2, type: "file_exists", path },
      onChange: (state) => changes.push(state),
    });
    return { runner, changes };
  };

  // A healthy check: pending after one pass, passing after `rise` (2), reported once.
  writeFileSync(path, "");
  const up = fresh();
  t.is(up.runner.state, "pending");
  t.true((await up.runner.runOnce()).ok);
  t.is(up.runner.state, "pending");
  t.deepEqual(up.changes, []);
  await up.runner.runOnce();
  t.is(up.runner.state, "passing");
  t.deepEqual(up.changes, ["passing"]);

  // A broken one: pending through `fall` - 1 failures, then failing (never passing first).
  rmSync(path);
  const down = fresh();
  for (let i = 0; i < 2; i++) {
    t.false((await down.runner.runOnce()).ok);
    t.is(down.runner.state, "pending");
  }
  await down.runner.runOnce();
  t.is(down.runner.state, "failing");
  t.deepEqual(down.changes, ["failing"]);

  // A flapping one completes neither streak: it stays pending and reports nothing.
  const flapping = fresh();
  for (let i = 0; i < 6; i++) {
    if (i % 2 === 0) writeFileSync(path, "");
    else rmSync(path);
    await flapping.runner.runOnce();
    t.is(flapping.runner.state, "pending");
  }
  t.deepEqual(flapping.changes, []);
  t.is(flapping.runner.completedRuns, 6);

  // Leaving pending is for good: failures below `fall` after passing change nothing.
  rmSync(path, { force: true });
  await up.runner.runOnce();
  await up.runner.runOnce();
  t.is(up.runner.state, "passing");
  t.deepEqual(up.changes, ["passing"]);
});

/** A runner over a file_exists check whose action appends a line to `count`. */
function actionRunner(dir: string, actionMinIntervalMs: number, logged: string[] = []) {
  const flag = join(dir, "flag");
  const count = join(dir, "count");
  const runner = new CheckRunner({
    check: {
      ...common,
      fall: 2,
      rise: 1,
      type: "file_exists",
      path: flag,
      action: { kind: "shell", command: `echo ran >> '${count}'` },
    },
    actionMinIntervalMs,
    logger: { info: (m) => logged.push(m), warn: (m) => logged.push(m) },
  });
  const runs = () => (existsSync(count) ? readFileSync(count, "utf8").split("\n").length - 1 : 0);
  return { runner, flag, runs };
}

test("the action runs once per failure streak", async (t) => {
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { runner, flag, runs } = actionRunner(dir, 0);
  t.teardown(() => runner.stop());
  await runner.runOnce();
  await runner.actionIdle();
  t.is(runs(), 0); // one failure is below fall: 2
  for (let i = 0; i < 5; i++) {
    await runner.runOnce();
    await runner.actionIdle();
  }
  t.is(runner.state, "failing");
  t.is(runs(), 1);
  appendFileSync(flag, "");
  await runner.runOnce();
  t.is(runner.state, "passing");
  rmSync(flag);
  for (let i = 0; i < 4; i++) {
    await runner.runOnce();
    await runner.actionIdle();
  }
  t.is(runs(), 2); // a new streak, and no rate limit here
});

test("the action is rate-limited across streaks", async (t) => {
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const logged: string[] = [];
  const { runner: logging, flag, runs } = actionRunner(dir, 60_000, logged);
  t.teardown(() => logging.stop());
  for (let i = 0; i < 2; i++) await logging.runOnce();
  await logging.actionIdle();
  t.is(runs(), 1);
  t.true(
    logged.some((m) => /action exited with code 0/.test(m)),
    logged.join("\n"),
  );
  appendFileSync(flag, "");
  await logging.runOnce();
  rmSync(flag);
  for (let i = 0; i < 2; i++) await logging.runOnce();
  await logging.actionIdle();
  t.is(logging.state, "failing");
  t.is(runs(), 1);
  t.true(
    logged.some((m) => /action skipped/.test(m)),
    logged.join("\n"),
  );
});

test("start() runs the check on its interval and stop() ends the runs", async (t) => {
  const dir = tempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const changes: CheckState[] = [];
  let failing!: () => void;
  const failed = new Promise<void>((resolve) => (failing = resolve));
  const runner: CheckRunner = new CheckRunner({
    check: { ...common, intervalMs: 10, fall: 3, type: "file_exists", path: join(dir, "x") },
    onChange: (state) => {
      changes.push(state);
      if (state === "failing") void runner.stop().then(failing);
    },
  });
  t.teardown(() => runner.stop());
  runner.start();
  await failed;
  t.deepEqual(changes, ["failing"]);
  t.is(runner.completedRuns, 3);
  await new Promise((resolve) => setTimeout(resolve, 100));
  t.is(runner.completedRuns, 3); // stopped: no further runs
});
