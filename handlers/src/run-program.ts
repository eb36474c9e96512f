/**
 * Running a helper program from a handler (ip, arping, sendmail, logger): its exit, signal
 * and output, an optional deadline (then SIGKILL), and one way to say how it failed.
 */
import { spawn } from "node:child_process";

/** How a program ended. */
export interface ProgramRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** The program could not be started at all (not found, not executable); `code` is errno's. */
export class ProgramStartError extends Error {
  override readonly name = "ProgramStartError";
  constructor(
    readonly path: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** What {@link runProgram} runs. */
export interface ProgramOptions {
  readonly path: string;
  readonly args: readonly string[];
  /** Written to its standard input (which is closed after); none when absent. */
  readonly stdin?: string;
  /** SIGKILL it after this long (and report `timedOut`); no deadline when absent. */
  readonly timeoutMs?: number;
}

/**
 * Output kept of each stream: bounded whatever the program prints, and far above what is
 * parsed (`ip -o addr show dev IF` for an interface with thousands of addresses).
 */
const OUTPUT_LIMIT = 1 << 20;

/**
 * Run a program to its end.
 * @throws ProgramStartError when it cannot be started
 */
export function runProgram(o: ProgramOptions): Promise<ProgramRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(o.path, [...o.args], {
      stdio: [o.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    child.stdout!.on("data", (c: Buffer) => {
      if (stdout.length < OUTPUT_LIMIT) stdout += c.toString("utf8");
    });
    child.stderr!.on("data", (c: Buffer) => {
      if (stderr.length < OUTPUT_LIMIT) stderr += c.toString("utf8");
    });
    const timer =
      o.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            child.kill("SIGKILL");
          }, o.timeoutMs);
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new ProgramStartError(o.path, e.code, e.message));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
    if (child.stdin) {
      child.stdin.on("error", () => {}); // a program that exits early is reported by "close"
      child.stdin.end(o.stdin);
    }
  });
}

/** `ip addr add ... failed (exit 2): what it said` for a run that did not exit 0. */
export function describeFailure(shown: string, r: ProgramRun): string {
  const how = r.timedOut
    ? "did not finish in time"
    : r.signal !== null
      ? `was ended by ${r.signal}`
      : `failed (exit ${r.code})`;
  const said = (r.stderr.trim() || r.stdout.trim()).replace(/\s*\n\s*/g, "; ");
  return `${shown} ${how}${said ? `: ${said}` : ""}`;
}

/** A helper program could not be started or did not exit 0: exit 1, so the runner retries. */
export class ProgramFailedError extends Error {
  override readonly name = "ProgramFailedError";
}

/** What {@link runToSuccess} runs, and how messages name it. */
export interface CheckedProgramOptions extends ProgramOptions {
  /** The setting the program's path comes from, e.g. `--sendmail (MAIL_SENDMAIL)`. */
  readonly setting: string;
  /** The command as messages show it, e.g. `/usr/sbin/sendmail -t -oi`. */
  readonly shown: string;
}

/**
 * Run a program that must exit 0.
 * @throws ProgramFailedError naming the setting when it cannot be started, and saying how it
 *   failed (see {@link describeFailure}) otherwise
 */
export async function runToSuccess(o: CheckedProgramOptions): Promise<ProgramRun> {
  let r: ProgramRun;
  try {
    r = await runProgram(o);
  } catch (e) {
    if (!(e instanceof ProgramStartError)) throw e;
    throw new ProgramFailedError(`${o.setting}: cannot run ${o.path}: ${e.code ?? e.message}`);
  }
  if (r.code !== 0) throw new ProgramFailedError(describeFailure(o.shown, r));
  return r;
}
