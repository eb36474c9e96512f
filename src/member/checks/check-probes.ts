/**
 * One run of a member's check, of any type (docs/checks.md): {@link runCheckOnce} and the
 * probe of each type (file_exists, file_contains, process_running, http, tcp, command). The
 * periodic runner that applies `fall` / `rise` and the action is `check-runner.ts`.
 *
 * Invariants:
 * - {@link runCheckOnce} never rejects and never takes (much) longer than `check.timeoutMs`:
 *   every failure, including a bad config value that slipped through, is a failed result.
 * - `command` checks go through {@link runProcessGroup}, the one process runner of the
 *   project, so they get its process-group handling, timeout and output tail.
 * - Reads are bounded: a file or response body is searched only in its first
 *   {@link FILE_CONTAINS_MAX_BYTES} / {@link HTTP_BODY_MAX_BYTES} bytes.
 */
import { open, readdir, readFile, readlink, realpath, stat } from "node:fs/promises";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { splitHostPort } from "../../config/host-port.ts";
import type { CheckConfig, Run } from "../../config/node-config.ts";
import { type ProcessRun, runProcessGroup } from "../../process/process-run.ts";
import type { ProcessSpawner } from "../../process/process-spawner.ts";
import { describeOutcome, succeeded } from "../../process/run-outcome.ts";

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

/** An error as one line: its message, with its errno code when the message lacks it. */
export function errorText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  const message = e instanceof Error ? e.message : String(e);
  return code !== undefined && !message.includes(code) ? `${message} (${code})` : message;
}

/** One line: the last non-empty line of `text`, or "" (what a check or action reports of its output). */
export function lastLine(text: string): string {
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

/** `file_contains`: the text occurs in the file's first {@link FILE_CONTAINS_MAX_BYTES} bytes. */
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

/** `process_running`: some process other than us runs `exe` and/or has `cmdline` in its command line. */
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

/** `http`: a GET answers with `status`, and its body contains `expect` when set. */
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

/** `tcp`: a connection to `address` opens. */
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

/**
 * `command`: the command exits 0 within `timeoutMs`; the detail is its last output line.
 * Its own timeout ends the whole process group before the outcome is reported.
 */
async function commandCheck(run: Run, timeoutMs: number, options: RunCheckOptions): Promise<string> {
  let attempt: ProcessRun;
  try {
    attempt = runProcessGroup({
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
