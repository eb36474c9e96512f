/**
 * Member-side local checks (DESIGN.md, `checks:`): one run of a check of any type
 * ({@link runCheckOnce}) and a periodic runner applying `fall` / `rise` and the optional local
 * remedy `action` ({@link CheckRunner}).
 *
 * Invariants:
 * - {@link runCheckOnce} never rejects and never takes (much) longer than `check.timeoutMs`:
 *   every failure, including a bad config value that slipped through, is a failed result.
 * - `command` checks and actions go through {@link runHandlerAttempt}, the one process runner
 *   of the project, so they get its process-group handling, timeout and output tail.
 * - A {@link CheckRunner} never runs two evaluations of its check at once, and never runs two
 *   actions at once; the action runs at most once per failure streak and at most once per
 *   `actionMinIntervalMs` overall.
 */
import { open, readdir, readFile, readlink, realpath, stat } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import type { CheckConfig, Run } from "../../config/config.ts";
import { splitHostPort } from "../../config/config.ts";
import {
  describeOutcome,
  type HandlerRun,
  type ProcessSpawner,
  runHandlerAttempt,
  succeeded,
} from "../../process/process-group.ts";
import type { CheckState } from "../../contract/check-state.ts";

/** The outcome of one run of a check. */
export interface CheckResult {
  /** Whether the check passed. */
  readonly ok: boolean;
  /** One short human-readable line: what was seen, or why it failed. */
  readonly detail: string;
  /** How long the run took, in milliseconds. */
  readonly durationMs: number;
}

/** Bytes of a file that `file_contains` reads at most; text beyond them is not searched. */
export const FILE_CONTAINS_MAX_BYTES = 1024 * 1024;

/** Bytes of an http response body that `expect` is searched in. */
export const HTTP_BODY_MAX_BYTES = 64 * 1024;

/** Time between SIGTERM and SIGKILL for a `command` check or an action that timed out. */
export const CHECK_KILL_GRACE_MS = 1000;

/** Options of {@link runCheckOnce}; all optional, for tests and embedding. */
export interface RunCheckOptions {
  /** How `command` processes are started; the real spawner when absent. */
  readonly spawner?: ProcessSpawner | undefined;
  /** The proc filesystem to scan for `process_running`; `/proc` when absent. */
  readonly procRoot?: string | undefined;
  /** A pid `process_running` ignores; our own (`process.pid`) when absent. */
  readonly selfPid?: number | undefined;
  /** A monotonic clock in milliseconds; `performance.now()` when absent. */
  readonly now?: (() => number) | undefined;
}

/** Thrown inside a run to fail it with `detail`; never escapes {@link runCheckOnce}. */
class CheckFailure extends Error {}

function errorText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const message = e instanceof Error ? e.message : String(e);
  return code !== undefined && !message.includes(code) ? `${message} (${code})` : message;
}

/** One line: the last non-empty line of `text`, or "". */
function lastLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim());
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i];
    if (line !== undefined && line !== "") return line;
  }
  return "";
}

/**
 * Run `check` once and report whether it passed. Never rejects: errors become a failed result
 * whose `detail` says what went wrong. A run that exceeds `check.timeoutMs` fails with
 * "timed out after N ms" (for `command` the process group is ended as well; for a stuck file
 * system call the call is abandoned, since Node cannot cancel it).
 */
export async function runCheckOnce(check: CheckConfig, options: RunCheckOptions = {}): Promise<CheckResult> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const finish = (ok: boolean, detail: string): CheckResult => ({
    ok,
    detail,
    durationMs: Math.max(0, now() - started),
  });
  let timer: NodeJS.Timeout | undefined;
  const abort = new AbortController();
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        abort.abort();
        reject(new CheckFailure(`timed out after ${check.timeoutMs} ms`));
      }, check.timeoutMs);
    });
    // A `command` check does not race the timer, and a race that was won leaves it pending:
    // either way nobody else may observe its rejection.
    timeout.catch(() => undefined);
    // `command` has its own timeout (it must end the process group, and report the outcome
    // only once the group is gone), so it is not raced against the timer.
    const detail =
      check.type === "command"
        ? await commandCheck(check.run, check.timeoutMs, options)
        : await Promise.race([evaluate(check, abort.signal, options), timeout]);
    return finish(true, detail);
  } catch (e) {
    return finish(false, e instanceof CheckFailure ? e.message : errorText(e));
  } finally {
    clearTimeout(timer);
    abort.abort();
  }
}

/** Resolve with the pass detail of every non-command check, or reject with why it failed. */
async function evaluate(check: CheckConfig, signal: AbortSignal, options: RunCheckOptions): Promise<string> {
  switch (check.type) {
    case "file_exists":
      await stat(check.path);
      return `${check.path} exists`;
    case "file_contains":
      return fileContains(check.path, check.contains);
    case "process_running":
      return processRunning(check.path, check.cmdline, options);
    case "http":
      return httpCheck(check.url, check.status, check.expect, signal);
    case "tcp":
      return tcpCheck(check.address, signal);
    case "command":
      throw new Error("command checks are not raced"); // unreachable: handled by the caller
  }
}

async function fileContains(path: string, text: string): Promise<string> {
  const handle = await open(path, "r");
  try {
    const buffer = Buffer.alloc(FILE_CONTAINS_MAX_BYTES);
    let length = 0;
    // read() may return fewer bytes than asked for; loop until EOF or the cap.
    while (length < buffer.length) {
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    // Search the bytes, not decoded text, so a multi-byte character cut at the cap cannot
    // turn into U+FFFD and hide a match that lies before it.
    if (buffer.subarray(0, length).includes(Buffer.from(text, "utf8"))) {
      return `${path} contains ${JSON.stringify(text)}`;
    }
    throw new CheckFailure(
      `${path} does not contain ${JSON.stringify(text)}` +
        (length === buffer.length ? ` in its first ${FILE_CONTAINS_MAX_BYTES} bytes` : ""),
    );
  } finally {
    await handle.close();
  }
}

async function processRunning(
  exe: string | null,
  cmdline: string | null,
  options: RunCheckOptions,
): Promise<string> {
  if (exe === null && cmdline === null) throw new CheckFailure("neither path nor cmdline is set");
  const root = options.procRoot ?? "/proc";
  const self = options.selfPid ?? process.pid;
  // /proc/PID/exe is fully resolved, so compare with the resolved configured path too
  // (e.g. /bin/sleep where /bin links to /usr/bin). A path that does not resolve is compared
  // as written: the process may be running a binary that has since been removed.
  let wanted: string | null = null;
  if (exe !== null) wanted = await realpath(exe).catch(() => exe);
  const pids = (await readdir(root)).filter((n) => /^\d+$/.test(n) && Number(n) !== self);
  for (const pid of pids) {
    // Each read may fail because the process ended meanwhile, or (exe) belongs to another
    // user: such a process simply does not match.
    if (wanted !== null && exe !== null) {
      const target = await readlink(`${root}/${pid}/exe`).catch(() => null);
      if (target === null) continue;
      const plain = target.endsWith(" (deleted)") ? target.slice(0, -10) : target;
      if (plain !== wanted && plain !== exe) continue;
    }
    if (cmdline !== null) {
      const raw = await readFile(`${root}/${pid}/cmdline`).catch(() => null);
      if (raw === null) continue;
      // Arguments are NUL-separated (and NUL-terminated); match against them joined by spaces,
      // as `ps` shows them.
      const text = raw.toString("utf8").replace(/\0+$/, "").replace(/\0/g, " ");
      if (!text.includes(cmdline)) continue;
    }
    return `process ${pid} matches`;
  }
  const what = [
    exe !== null ? `path ${exe}` : null,
    cmdline !== null ? `cmdline containing ${JSON.stringify(cmdline)}` : null,
  ].filter((s) => s !== null);
  throw new CheckFailure(`no process with ${what.join(" and ")}`);
}

function httpCheck(url: string, status: number, expect: string | null, signal: AbortSignal): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new CheckFailure(`${JSON.stringify(url)} is not a URL`));
      return;
    }
    const request = parsed.protocol === "https:" ? httpsRequest : httpRequest;
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
      reject(new CheckFailure(`${url}: only http: and https: are supported`));
      return;
    }
    const req = request(parsed, { method: "GET", signal }, (res: IncomingMessage) => {
      if (res.statusCode !== status) {
        res.destroy();
        reject(new CheckFailure(`${url}: status ${res.statusCode}, expected ${status}`));
        return;
      }
      if (expect === null) {
        res.destroy();
        resolve(`${url}: status ${status}`);
        return;
      }
      const chunks: Buffer[] = [];
      let length = 0;
      const needle = Buffer.from(expect, "utf8");
      const judge = (): void => {
        const body = Buffer.concat(chunks).subarray(0, HTTP_BODY_MAX_BYTES);
        if (body.includes(needle)) resolve(`${url}: status ${status}, body contains expected text`);
        else reject(new CheckFailure(`${url}: body does not contain ${JSON.stringify(expect)}`));
      };
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        length += chunk.length;
        // Enough read: stop the transfer rather than download an unbounded body.
        if (length >= HTTP_BODY_MAX_BYTES) {
          res.destroy();
          judge();
        }
      });
      res.on("end", judge);
      res.on("error", (e) => reject(e));
    });
    req.on("error", (e) => reject(e));
    req.end();
  });
}

function tcpCheck(address: string, signal: AbortSignal): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    let host: string;
    let port: number;
    try {
      ({ host, port } = splitHostPort(address));
    } catch (e) {
      reject(new CheckFailure(errorText(e)));
      return;
    }
    const socket = connect({ host, port, signal });
    socket.once("connect", () => {
      socket.destroy();
      resolve(`connected to ${address}`);
    });
    socket.once("error", (e) => {
      socket.destroy();
      reject(new CheckFailure(`${address}: ${errorText(e)}`));
    });
  });
}

async function commandCheck(run: Run, timeoutMs: number, options: RunCheckOptions): Promise<string> {
  let attempt: HandlerRun;
  try {
    attempt = runHandlerAttempt({
      run,
      env: {},
      stdin: "",
      timeoutMs,
      killGraceMs: CHECK_KILL_GRACE_MS,
      spawner: options.spawner,
    });
  } catch (e) {
    throw new CheckFailure(errorText(e));
  }
  const outcome = await attempt.done;
  const line = outcome.kind === "spawn-failed" ? "" : lastLine(outcome.output.text);
  if (succeeded(outcome)) return line !== "" ? line : "exited with code 0";
  // A failure names how it ended as well, so "exited with code 2" is not lost.
  throw new CheckFailure(line !== "" ? `${describeOutcome(outcome)}: ${line}` : describeOutcome(outcome));
}

// ---------------------------------------------------------------------------------------------
// The periodic runner

/** Where a {@link CheckRunner} reports its actions; `console` fits. */
export interface CheckLogger {
  /** Something expected happened (an action ran and succeeded). */
  info(message: string): void;
  /** Something an operator should look at (an action failed or was skipped). */
  warn(message: string): void;
}

/** Default of {@link CheckRunnerOptions.actionMinIntervalMs}: one minute. */
export const DEFAULT_ACTION_MIN_INTERVAL_MS = 60_000;

/** Default of {@link CheckRunnerOptions.actionTimeoutMs}: one minute. */
export const DEFAULT_ACTION_TIMEOUT_MS = 60_000;

/** Options of a {@link CheckRunner}. */
export interface CheckRunnerOptions {
  /** The check to run. */
  readonly check: CheckConfig;
  /** Called (synchronously, after the run) each time the state changes; never for a repeat. */
  readonly onChange?: ((state: CheckState, result: CheckResult) => void) | undefined;
  /** Where action outcomes go; nowhere when absent. */
  readonly logger?: CheckLogger | undefined;
  /** Least time between two starts of the action, even across failure streaks. */
  readonly actionMinIntervalMs?: number | undefined;
  /** Timeout of one action run. */
  readonly actionTimeoutMs?: number | undefined;
  /** Runs the check once; {@link runCheckOnce} when absent (a seam for tests). */
  readonly runCheck?: ((check: CheckConfig) => Promise<CheckResult>) | undefined;
  /** How processes (command checks, actions) are started; the real spawner when absent. */
  readonly spawner?: ProcessSpawner | undefined;
  /** A monotonic clock in milliseconds, for the action rate limit; `performance.now()`. */
  readonly now?: (() => number) | undefined;
}

/**
 * Runs one check every `intervalMs` and turns its results into a state with hysteresis:
 * `fall` consecutive failures make it failing, `rise` consecutive passes make it passing.
 *
 * The initial state is "passing", with both counters at zero: a node that starts with a
 * broken service reports it after `fall` runs (one `onChange("failing")`), and a healthy one
 * reports nothing at start, so a restarted agent does not emit a burst of `check-passing`
 * events. The cost is that a failing check is reported passing until `fall` runs have failed.
 *
 * When the state becomes failing and the check has an `action`, the action is started once
 * for that streak (in the background, so the check keeps running meanwhile). It is not started
 * again until the check has risen back to passing and then fallen again, and never within
 * `actionMinIntervalMs` of the previous start: a streak that begins inside that window gets no
 * action at all (logged), rather than a delayed one.
 */
export class CheckRunner {
  private readonly check: CheckConfig;
  private readonly options: CheckRunnerOptions;
  private readonly now: () => number;
  private current: CheckState = "passing";
  private passes = 0;
  private failures = 0;
  /** The action has been started (or skipped) for the current failure streak. */
  private actionHandled = false;
  private lastActionStart: number | null = null;
  private action: HandlerRun | null = null;
  private actionDone: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  /** The evaluation in flight, if any: runs never overlap. */
  private inFlight: Promise<CheckResult> | null = null;
  private runs = 0;

  /** Set up the runner; nothing runs until {@link start} (or {@link runOnce}). */
  constructor(options: CheckRunnerOptions) {
    this.options = options;
    this.check = options.check;
    this.now = options.now ?? (() => performance.now());
  }

  /** The current state. */
  get state(): CheckState {
    return this.current;
  }

  /** How many evaluations have completed. */
  get completedRuns(): number {
    return this.runs;
  }

  /** Resolves once no action is running (at once when none is); never rejects. */
  async actionIdle(): Promise<void> {
    await this.actionDone;
  }

  /** Start running the check now and then every `intervalMs` (measured start to start). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  /**
   * Stop: no further runs are started; waits for the run in flight, and ends a running action
   * (its group gets SIGTERM, then SIGKILL), so nothing outlives the runner.
   */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.action?.kill("check runner stopped");
    await this.inFlight?.catch(() => undefined);
    await this.actionDone;
  }

  /**
   * Run the check once now and apply the result to the state (firing `onChange` and the
   * action as needed). If a run is already in flight, waits for it and returns its result
   * instead of starting another.
   */
  runOnce(): Promise<CheckResult> {
    if (this.inFlight !== null) return this.inFlight;
    const evaluate = this.options.runCheck ?? ((c) => runCheckOnce(c, { spawner: this.options.spawner }));
    const run = (async () => {
      try {
        const result = await evaluate(this.check);
        this.apply(result);
        return result;
      } finally {
        this.inFlight = null;
      }
    })();
    this.inFlight = run;
    return run;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.running) return;
      const started = this.now();
      void this.runOnce()
        .catch((e: unknown) => {
          // Only an onChange callback or a custom runCheck can throw; keep the loop alive.
          this.options.logger?.warn(`check ${this.check.name}: ${errorText(e)}`);
        })
        .finally(() => {
          if (this.running) {
            this.schedule(Math.max(0, this.check.intervalMs - (this.now() - started)));
          }
        });
    }, delayMs);
  }

  private apply(result: CheckResult): void {
    this.runs++;
    if (result.ok) {
      this.passes++;
      this.failures = 0;
    } else {
      this.failures++;
      this.passes = 0;
    }
    if (this.current === "passing" && this.failures >= this.check.fall) {
      this.current = "failing";
      this.startAction(result);
      this.options.onChange?.("failing", result);
    } else if (this.current === "failing" && this.passes >= this.check.rise) {
      this.current = "passing";
      // The streak is over: the next one may run the action again (rate limit permitting).
      this.actionHandled = false;
      this.options.onChange?.("passing", result);
    }
  }

  private startAction(result: CheckResult): void {
    const run = this.check.action;
    if (run === null || this.actionHandled) return;
    this.actionHandled = true;
    const logger = this.options.logger;
    const name = this.check.name;
    const minInterval = this.options.actionMinIntervalMs ?? DEFAULT_ACTION_MIN_INTERVAL_MS;
    const now = this.now();
    if (this.lastActionStart !== null && now - this.lastActionStart < minInterval) {
      logger?.warn(`check ${name}: action skipped, the previous one started less than ${minInterval} ms ago`);
      return;
    }
    if (this.action !== null) {
      logger?.warn(`check ${name}: action skipped, the previous one is still running`);
      return;
    }
    this.lastActionStart = now;
    let attempt: HandlerRun;
    try {
      attempt = runHandlerAttempt({
        run,
        env: {},
        stdin: "",
        timeoutMs: this.options.actionTimeoutMs ?? DEFAULT_ACTION_TIMEOUT_MS,
        killGraceMs: CHECK_KILL_GRACE_MS,
        spawner: this.options.spawner,
      });
    } catch (e) {
      logger?.warn(`check ${name}: action could not run: ${errorText(e)}`);
      return;
    }
    logger?.info(`check ${name}: failing (${result.detail}); running its action`);
    this.action = attempt;
    this.actionDone = attempt.done.then((outcome) => {
      this.action = null;
      this.actionDone = null;
      const line = outcome.kind === "spawn-failed" ? "" : lastLine(outcome.output.text);
      const text = `check ${name}: action ${describeOutcome(outcome)}${line !== "" ? `: ${line}` : ""}`;
      if (succeeded(outcome)) logger?.info(text);
      else logger?.warn(text);
    });
  }
}
