/**
 * What a caller gives the process-group runner: {@link RunOptions} and {@link KillOptions},
 * their defaults, their validation ({@link RunOptionsError} for a caller's bug), and
 * {@link spawnRequestFor}, which turns the options into the exact {@link SpawnRequest} the
 * spawner gets (the shell or the argv, the whole environment).
 */
import { MAX_DURATION_MS } from "../config/duration.ts";
import type { Run } from "../config/node-config.ts";
import type { ProcessSpawner, SpawnRequest } from "./process-spawner.ts";

/**
 * Default time between SIGTERM and SIGKILL when a process group is ended (timeout, kill, or
 * processes left behind after the main process exited).
 */
export const DEFAULT_KILL_GRACE_MS = 2000;

/** The shell that runs a `{ kind: "shell" }` command, as `/bin/sh -c COMMAND`. */
export const SHELL = "/bin/sh";

/**
 * Options given to the runner (or to an `OutputTail`) are invalid: a bug in the caller,
 * thrown at once. Every failure of the process itself is an outcome instead.
 */
export class RunOptionsError extends Error {
  override readonly name = "RunOptionsError";
}

/** Options of one run of a process group (`runProcessGroup` in process-run.ts). */
export interface RunOptions {
  /** What to run: `/bin/sh -c COMMAND`, or an argv started directly with no shell. */
  readonly run: Run;
  /**
   * Variables for this run, laid over `baseEnv`; for a handler, `handlerEnvironment`'s
   * (contract/handler-env.ts).
   */
  readonly env: Readonly<Record<string, string>>;
  /**
   * The standard input: written as UTF-8, then stdin is closed. A process that does not read
   * it, or exits first, is fine (the broken pipe is ignored).
   */
  readonly stdin: string;
  /** After this many milliseconds the group is ended and the outcome is `timeout`. */
  readonly timeoutMs: number;
  /** Working directory; this process's own when absent. */
  readonly cwd?: string | undefined;
  /** How processes are started; `nodeProcessSpawner` when absent. */
  readonly spawner?: ProcessSpawner | undefined;
  /** The environment `env` is laid over; `process.env` when absent. */
  readonly baseEnv?: Readonly<Record<string, string | undefined>> | undefined;
  /** Time between SIGTERM and SIGKILL; {@link DEFAULT_KILL_GRACE_MS} when absent. */
  readonly killGraceMs?: number | undefined;
  /** A monotonic clock in milliseconds; `performance.now()` when absent. */
  readonly now?: (() => number) | undefined;
  /** Give the process a control pipe on fd 3 ({@link ProcessRun.control}). */
  readonly controlPipe?: boolean | undefined;
}

/** Options of `ProcessRun.kill`. */
export interface KillOptions {
  /** Time between SIGTERM and SIGKILL for this kill; 0 sends SIGKILL at once. Default: the run's. */
  readonly graceMs?: number | undefined;
}

/**
 * Check a duration option: finite, at least `min`, at most the longest duration a config may
 * hold (so a timer can never overflow into firing at once).
 * @throws RunOptionsError naming `what` otherwise.
 */
export function checkDurationMs(what: string, ms: number, min: number): void {
  if (!Number.isFinite(ms) || ms < min || ms > MAX_DURATION_MS) {
    throw new RunOptionsError(`${what} must be between ${min} and ${MAX_DURATION_MS} ms, got ${ms}`);
  }
}

/**
 * The spawn request for `options`: the shell or the argv, and `options.env` laid over the base
 * environment (whose undefined values are dropped), so a variable set for the run always wins
 * over an inherited one.
 * @throws RunOptionsError for an empty argv (the config loader refuses one).
 */
export function spawnRequestFor(options: RunOptions): SpawnRequest {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.baseEnv ?? process.env)) {
    if (v !== undefined) env[k] = v;
  }
  Object.assign(env, options.env);
  const pipe = options.controlPipe ? { controlPipe: true } : {};
  const { run } = options;
  if (run.kind === "shell") {
    return { file: SHELL, args: ["-c", run.command], env, cwd: options.cwd, ...pipe };
  }
  const [file, ...args] = run.argv;
  if (file === undefined || file === "") {
    throw new RunOptionsError("run.argv must not be empty");
  }
  return { file, args, env, cwd: options.cwd, ...pipe };
}
