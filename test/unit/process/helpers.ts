/**
 * Shared helpers of the process-group runner's tests (process-run.test.ts and
 * process-run-seam.test.ts): temporary scripts, the usual options, waiting for an outcome
 * with a deadline (so a broken runner fails a test instead of hanging the suite), and checks
 * on processes and output text. No timing thresholds are asserted anywhere.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ExecutionContext } from "ava";
import type { ProcessRun } from "../../../src/process/process-run.ts";
import type { RunOptions } from "../../../src/process/run-options.ts";
import type { RunOutcome } from "../../../src/process/run-outcome.ts";

/** A fresh directory, removed after the test. */
export function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-handler-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Write an executable shell script. */
export function script(dir: string, name: string, body: string, mode = 0o755): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, mode);
  return path;
}

/** The usual options: a shell command, a sample environment, a generous timeout. */
export function shell(command: string, extra: Partial<RunOptions> = {}): RunOptions {
  return {
    run: { kind: "shell", command },
    env: {},
    stdin: "{}",
    timeoutMs: 30_000,
    ...extra,
  };
}

/** The run's outcome, or a failure after `ms` so a broken runner cannot hang the suite. */
export async function outcomeOf(run: ProcessRun, ms = 30_000): Promise<RunOutcome> {
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
export async function eventually(check: () => boolean, ms = 10_000): Promise<boolean> {
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
export function isDead(pid: number): boolean {
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
export async function pidFrom(t: ExecutionContext, path: string): Promise<number> {
  t.true(
    await eventually(() => existsSync(path) && /^\d+\n/.test(readFileSync(path, "utf8"))),
    `no pid in ${path}`,
  );
  return Number(readFileSync(path, "utf8").trim());
}

/** Asserts the outcome's kind and narrows it. */
export function expectKind<K extends RunOutcome["kind"]>(
  t: ExecutionContext,
  outcome: RunOutcome,
  kind: K,
): Extract<RunOutcome, { kind: K }> {
  if (outcome.kind !== kind) {
    t.fail(`expected ${kind}, got ${JSON.stringify(outcome)}`);
    throw new Error("unreachable");
  }
  return outcome as Extract<RunOutcome, { kind: K }>;
}

/** Every character a JSON event and a terminal can carry: no control characters but \n and \t. */
export function assertSafeText(t: ExecutionContext, text: string): void {
  t.is(JSON.parse(JSON.stringify({ text })).text, text);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const control = (c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f);
    if (control) t.fail(`control character U+${c.toString(16).padStart(4, "0")} at ${i}`);
  }
  // TextDecoder never yields lone surrogates; check anyway, since JSON consumers choke on them.
  t.false(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text));
}
