/**
 * One attempt of a handler (DESIGN.md, "Handler contract"): start the configured command with
 * the `CONCLAVE_*` environment and the JSON view on standard input, wait for it to end, and
 * report how it ended as a {@link HandlerOutcome}. Nothing here knows about Raft, retries or
 * leadership; the leader-side orchestration builds those on {@link runHandlerAttempt}.
 *
 * Invariants this module keeps, whatever the handler does:
 * - {@link HandlerRun.done} always settles and never rejects: a handler that cannot start,
 *   fails, hangs, ignores SIGTERM, prints binary or prints without end is reported through
 *   the union, never thrown.
 * - The handler runs in its own process group (it is started `detached`, so it leads a new
 *   session and group); a timeout, {@link HandlerRun.kill} and the end of the run signal the
 *   whole group, so processes a shell script started in the background are ended too.
 * - `done` settles only when the handler's main process has exited, its output pipes have
 *   closed (or stopped being waited for), and its process group is empty or has been sent
 *   SIGKILL. So once `done` settles the orchestrator may start the next attempt without two
 *   runs of one (event, handler) pair overlapping on this machine.
 * - At most {@link OUTPUT_TAIL_BYTES} of output are kept, however much the handler prints.
 *
 * POSIX only (process groups, `/bin/sh`).
 */
import { spawn as spawnChild } from "node:child_process";
import { existsSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import type { EventType, Run } from "../config/config.ts";
import { MAX_DURATION_MS } from "../config/duration.ts";

// ---------------------------------------------------------------------------------------------
// Constants

/** How much of a handler's combined stdout and stderr is kept: the last 4 KiB. */
export const OUTPUT_TAIL_BYTES = 4096;

/**
 * Default time between SIGTERM and SIGKILL when a handler's process group is ended (timeout,
 * kill, or processes left behind after the handler exited).
 */
export const DEFAULT_KILL_GRACE_MS = 2000;

/**
 * After the main process has exited, how much longer (beyond the kill grace) to wait for its
 * stdout and stderr to close. They stay open only while some process still holds them; one in
 * the handler's group is killed within the grace, so this only matters for a process that left
 * the group (e.g. `setsid`) while keeping the pipes. Then reading stops and the run ends anyway.
 */
const DRAIN_AFTER_GRACE_MS = 1000;

/** While waiting for a process group to empty after SIGTERM, how often to look. */
const GROUP_POLL_MS = 50;

/** The shell that runs a `{ kind: "shell" }` command, as `/bin/sh -c COMMAND`. */
export const SHELL = "/bin/sh";

// ---------------------------------------------------------------------------------------------
// Errors

/** The options given to {@link runHandlerAttempt} or {@link handlerEnvironment} are invalid: a bug in the caller. */
export class HandlerAttemptOptionsError extends Error {
  override readonly name = "HandlerAttemptOptionsError";
}

/**
 * A handler could not be started at all (no such file, not executable, bad working directory,
 * out of processes). Carried by the `spawn-failed` outcome; never thrown.
 */
export class HandlerSpawnError extends Error {
  override readonly name = "HandlerSpawnError";
  /** The program that was to be run: `argv[0]`, or {@link SHELL} for a shell command. */
  readonly path: string;
  /** The system error code (`ENOENT`, `EACCES`, ...), when there is one. */
  readonly code: string | undefined;

  /**
   * @param path the program that was to be run.
   * @param code the system error code, if any.
   * @param message the whole message; it names `path`.
   * @param cause the underlying error.
   */
  constructor(path: string, code: string | undefined, message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.path = path;
    this.code = code;
  }
}

// ---------------------------------------------------------------------------------------------
// The environment

/** What {@link handlerEnvironment} needs to describe one attempt. */
export interface HandlerEnvironmentInput {
  /** The committed event the handler runs for: its log index (`id`) and `type`. */
  readonly event: { readonly id: number; readonly type: EventType };
  /** The handler's name (`handlers[].name`). */
  readonly handler: string;
  /** 1 for the first run of this (event, handler) pair, one more for each run after it. */
  readonly attempt: number;
  /** The term of the leader running the handler. */
  readonly term: number;
  /**
   * The fencing token: the term and log index of this attempt's committed `handler-started`
   * entry. Later attempts (and later leaders) have larger (term, index), compared as numbers
   * part by part; a handler can refuse work fenced below one it has already seen.
   */
  readonly fence: { readonly term: number; readonly index: number };
  /** The member the event is about, if any. */
  readonly member?: string | null | undefined;
  /** That member's address, if known. */
  readonly memberAddress?: string | null | undefined;
  /** The service the event is about, if any. */
  readonly service?: string | null | undefined;
  /** The cluster's name or identity, if any. */
  readonly cluster?: string | null | undefined;
}

/** The names of the variables {@link handlerEnvironment} sets, as DESIGN.md spells them. */
export const HANDLER_ENV_NAMES = [
  "CONCLAVE_EVENT",
  "CONCLAVE_EVENT_ID",
  "CONCLAVE_TERM",
  "CONCLAVE_FENCE",
  "CONCLAVE_ATTEMPT",
  "CONCLAVE_HANDLER",
  "CONCLAVE_MEMBER",
  "CONCLAVE_MEMBER_ADDRESS",
  "CONCLAVE_SERVICE",
  "CONCLAVE_CLUSTER",
] as const;

/** One of {@link HANDLER_ENV_NAMES}. */
export type HandlerEnvName = (typeof HANDLER_ENV_NAMES)[number];

/**
 * The `CONCLAVE_*` variables of DESIGN.md's handler contract for one attempt: every name of
 * {@link HANDLER_ENV_NAMES}, always set, an empty string where the value is absent (so a
 * variable inherited from the leader's own environment can never leak through).
 * `CONCLAVE_FENCE` is `TERM:INDEX`.
 * @throws HandlerAttemptOptionsError when a number is not a non-negative safe integer or the
 *   attempt is below 1: a wrong fence would silently defeat fencing.
 */
export function handlerEnvironment(input: HandlerEnvironmentInput): Record<HandlerEnvName, string> {
  const count = (what: string, n: number, min: number): string => {
    if (!Number.isSafeInteger(n) || n < min) {
      throw new HandlerAttemptOptionsError(
        `handler environment: ${what} must be an integer >= ${min}, got ${n}`,
      );
    }
    return String(n);
  };
  return {
    CONCLAVE_EVENT: input.event.type,
    CONCLAVE_EVENT_ID: count("event id", input.event.id, 0),
    CONCLAVE_TERM: count("term", input.term, 0),
    CONCLAVE_FENCE: `${count("fence term", input.fence.term, 0)}:${count("fence index", input.fence.index, 0)}`,
    CONCLAVE_ATTEMPT: count("attempt", input.attempt, 1),
    CONCLAVE_HANDLER: input.handler,
    CONCLAVE_MEMBER: input.member ?? "",
    CONCLAVE_MEMBER_ADDRESS: input.memberAddress ?? "",
    CONCLAVE_SERVICE: input.service ?? "",
    CONCLAVE_CLUSTER: input.cluster ?? "",
  };
}

// ---------------------------------------------------------------------------------------------
// The spawning seam

/** What to start: a program, its arguments, its whole environment and working directory. */
export interface SpawnRequest {
  /** The program: an absolute path, or a name looked up in `env.PATH`. */
  readonly file: string;
  /** Its arguments, without `file` itself. */
  readonly args: readonly string[];
  /** The complete environment of the new process. */
  readonly env: Readonly<Record<string, string>>;
  /** Working directory, or undefined for the leader's own. */
  readonly cwd: string | undefined;
}

/**
 * A started (or failed-to-start) process, shaped like the parts of Node's `ChildProcess` the
 * runner uses so that a fake can be an `EventEmitter` with `PassThrough` streams.
 *
 * Events, as `ChildProcess` emits them: `spawn` once it started; `error` with the reason if it
 * could not start (an `error` after `spawn` or `exit` is ignored); `exit` with
 * `(code, signal)` when the main process ended; `close` once its stdio streams are closed too.
 */
export interface SpawnedProcess {
  /** The process id, also the id of its process group; undefined when it did not start. */
  readonly pid: number | undefined;
  /** The handler's standard input. */
  readonly stdin: Writable | null;
  /** The handler's standard output. */
  readonly stdout: Readable | null;
  /** The handler's standard error. */
  readonly stderr: Readable | null;
  /** See the interface's description. */
  on(event: "spawn", listener: () => void): unknown;
  /** See the interface's description. */
  on(event: "error", listener: (error: Error) => void): unknown;
  /** See the interface's description. */
  on(event: "exit", listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  /** See the interface's description. */
  on(event: "close", listener: () => void): unknown;
  /**
   * Send `signal` to the whole process group (signal 0 only asks whether it has members).
   * @returns false when the group has no members left (or never started), true otherwise.
   *   Never throws.
   */
  signalGroup(signal: NodeJS.Signals | 0): boolean;
}

/** Starts handler processes; the seam where tests substitute a fake. */
export interface ProcessSpawner {
  /**
   * Start `request` in a new process group, stdin/stdout/stderr piped. May throw for a request
   * Node rejects outright (e.g. a NUL byte in an argument); the runner reports that as
   * `spawn-failed` too.
   */
  spawn(request: SpawnRequest): SpawnedProcess;
}

/**
 * Groups started by {@link nodeProcessSpawner} whose main process has not exited yet. When the
 * leader process itself exits (normally or on an uncaught exception) they are sent SIGKILL, so
 * a handler does not outlive the leader that started it and overlap the next leader's retry.
 * (A leader killed by a signal cannot do this; systemd's `KillMode=control-group` covers that.)
 */
const liveGroups = new Set<number>();
let exitHookInstalled = false;

function killLiveGroupsOnExit(): void {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // Already gone.
    }
  }
}

/**
 * The real spawner, on `node:child_process`: `detached: true`, so the handler leads its own
 * session and process group (pgid = pid) and its whole group can be signalled with
 * `process.kill(-pid, ...)`; signals start at their defaults in the child (libuv resets them).
 */
export const nodeProcessSpawner: ProcessSpawner = {
  spawn(request: SpawnRequest): SpawnedProcess {
    const child = spawnChild(request.file, [...request.args], {
      cwd: request.cwd,
      env: { ...request.env },
      detached: true,
      stdio: ["pipe", "pipe", "pipe"],
      windowsHide: true,
    });
    const pid = child.pid;
    if (pid !== undefined) {
      if (!exitHookInstalled) {
        exitHookInstalled = true;
        process.once("exit", killLiveGroupsOnExit);
      }
      liveGroups.add(pid);
      child.once("exit", () => liveGroups.delete(pid));
    }
    return {
      pid,
      stdin: child.stdin,
      stdout: child.stdout,
      stderr: child.stderr,
      on(event: string, listener: (...args: never[]) => void) {
        // The interface's overloads name each event's arguments; ChildProcess emits exactly those.
        child.on(event, listener as (...args: unknown[]) => void);
        return this;
      },
      signalGroup(signal: NodeJS.Signals | 0): boolean {
        if (pid === undefined) return false;
        try {
          process.kill(-pid, signal);
          return true;
        } catch (e) {
          // ESRCH: no process left in the group. EPERM: members we may not signal, which
          // still exist; anything else, assume they do.
          return (e as NodeJS.ErrnoException).code !== "ESRCH";
        }
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------
// Output

/** What a handler printed, as kept for its event. */
export interface HandlerOutput {
  /**
   * The last {@link OUTPUT_TAIL_BYTES} bytes of combined stdout and stderr (in arrival order)
   * as text safe for a JSON event and a terminal: UTF-8 with U+FFFD for invalid bytes, CRLF as
   * LF, and U+FFFD for every other control character except `\n` and `\t`.
   */
  readonly text: string;
  /** True when more than the kept bytes was printed. */
  readonly truncated: boolean;
  /** How many bytes were printed in all. */
  readonly totalBytes: number;
}

/**
 * A fixed-size tail of a byte stream: keeps the last `capacity` bytes in one preallocated
 * buffer, so memory stays at `capacity` however much is written, and counts every byte.
 */
export class OutputTail {
  private readonly ring: Buffer;
  /** Index in `ring` of the oldest byte kept. */
  private start = 0;
  /** Bytes kept, at most `capacity`. */
  private length = 0;
  private total = 0;

  /** @param capacity bytes to keep, at least 1. */
  constructor(readonly capacity: number = OUTPUT_TAIL_BYTES) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new HandlerAttemptOptionsError(
        `output tail capacity must be a positive integer, got ${capacity}`,
      );
    }
    this.ring = Buffer.alloc(capacity);
  }

  /** Add bytes at the end, forgetting the oldest beyond the capacity. */
  write(chunk: Uint8Array): void {
    const cap = this.capacity;
    this.total += chunk.length;
    if (chunk.length >= cap) {
      this.ring.set(chunk.subarray(chunk.length - cap));
      this.start = 0;
      this.length = cap;
      return;
    }
    const end = (this.start + this.length) % cap;
    const first = Math.min(chunk.length, cap - end);
    this.ring.set(chunk.subarray(0, first), end);
    this.ring.set(chunk.subarray(first), 0);
    const held = this.length + chunk.length;
    if (held > cap) {
      this.start = (this.start + held - cap) % cap;
      this.length = cap;
    } else {
      this.length = held;
    }
  }

  /** Every byte written so far. */
  get totalBytes(): number {
    return this.total;
  }

  /** True when bytes have been forgotten. */
  get truncated(): boolean {
    return this.total > this.length;
  }

  /** A copy of the bytes kept, oldest first. */
  bytes(): Buffer {
    const out = Buffer.alloc(this.length);
    const first = Math.min(this.length, this.capacity - this.start);
    this.ring.copy(out, 0, this.start, this.start + first);
    this.ring.copy(out, first, 0, this.length - first);
    return out;
  }

  /** The kept bytes as a {@link HandlerOutput}. */
  toOutput(): HandlerOutput {
    return {
      text: outputText(this.bytes(), this.truncated),
      truncated: this.truncated,
      totalBytes: this.total,
    };
  }
}

const utf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * Decode handler output for an event: see {@link HandlerOutput.text}.
 * @param bytes the bytes kept.
 * @param truncated whether they are the tail of something longer: then up to 3 leading UTF-8
 *   continuation bytes, the rest of a character whose start was dropped, are skipped rather
 *   than shown as U+FFFD.
 */
export function outputText(bytes: Uint8Array, truncated: boolean): string {
  let from = 0;
  if (truncated) {
    while (from < 3 && from < bytes.length && ((bytes[from] ?? 0) & 0xc0) === 0x80) from++;
  }
  return sanitizeText(utf8.decode(bytes.subarray(from)));
}

/** Whether code unit `c` is a control character to replace (C0 but \t and \n, DEL, C1). */
function isUnsafeControl(c: number): boolean {
  return (c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f);
}

/** CRLF to LF, then every control character other than \n and \t to U+FFFD. */
function sanitizeText(text: string): string {
  let clean = true;
  for (let i = 0; i < text.length; i++) {
    if (isUnsafeControl(text.charCodeAt(i))) {
      clean = false;
      break;
    }
  }
  if (clean) return text;
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0d && text.charCodeAt(i + 1) === 0x0a) continue;
    out += isUnsafeControl(c) ? "\uFFFD" : text[i];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Outcomes

/** How one attempt ended. Every variant has the run's duration in milliseconds. */
export type HandlerOutcome =
  /**
   * The handler ended on its own (or by a signal nobody here sent): exactly one of `code` and
   * `signal` is non-null. A shell command that is not found or not executable ends here, with
   * the shell's codes 127 and 126.
   */
  | {
      readonly kind: "exited";
      readonly code: number | null;
      readonly signal: NodeJS.Signals | null;
      readonly durationMs: number;
      readonly output: HandlerOutput;
    }
  /** It ran longer than its timeout; its process group was ended. */
  | {
      readonly kind: "timeout";
      readonly durationMs: number;
      readonly output: HandlerOutput;
    }
  /** {@link HandlerRun.kill} ended it, for `reason`, before it exited. */
  | {
      readonly kind: "killed";
      readonly reason: string;
      readonly durationMs: number;
      readonly output: HandlerOutput;
    }
  /** It could not be started; nothing ran. */
  | {
      readonly kind: "spawn-failed";
      readonly error: HandlerSpawnError;
      readonly durationMs: number;
    };

/** True for the only successful outcome: the handler exited with code 0. */
export function succeeded(outcome: HandlerOutcome): boolean {
  return outcome.kind === "exited" && outcome.code === 0;
}

/** A short human-readable account of an outcome, e.g. for a `handler-failed` event's details. */
export function describeOutcome(outcome: HandlerOutcome): string {
  switch (outcome.kind) {
    case "exited":
      return outcome.signal !== null ? `ended by ${outcome.signal}` : `exited with code ${outcome.code}`;
    case "timeout":
      return `timed out after ${Math.round(outcome.durationMs)} ms`;
    case "killed":
      return `killed: ${outcome.reason}`;
    case "spawn-failed":
      return outcome.error.message;
  }
}

// ---------------------------------------------------------------------------------------------
// Running one attempt

/** Options of {@link runHandlerAttempt}. */
export interface HandlerAttemptOptions {
  /** What to run: `/bin/sh -c COMMAND`, or an argv started directly with no shell. */
  readonly run: Run;
  /**
   * Variables for this attempt, laid over `baseEnv`; normally {@link handlerEnvironment}'s.
   */
  readonly env: Readonly<Record<string, string>>;
  /**
   * The standard input: one JSON document, written as UTF-8, then stdin is closed. A handler
   * that does not read it, or exits first, is fine (the broken pipe is ignored).
   */
  readonly stdin: string;
  /** After this many milliseconds the handler's group is ended and the outcome is `timeout`. */
  readonly timeoutMs: number;
  /** Working directory; the leader's own when absent. */
  readonly cwd?: string | undefined;
  /** How processes are started; {@link nodeProcessSpawner} when absent. */
  readonly spawner?: ProcessSpawner | undefined;
  /** The environment `env` is laid over; `process.env` when absent. */
  readonly baseEnv?: Readonly<Record<string, string | undefined>> | undefined;
  /** Time between SIGTERM and SIGKILL; {@link DEFAULT_KILL_GRACE_MS} when absent. */
  readonly killGraceMs?: number | undefined;
  /** A monotonic clock in milliseconds; `performance.now()` when absent. */
  readonly now?: (() => number) | undefined;
}

/** Options of {@link HandlerRun.kill}. */
export interface KillOptions {
  /** Time between SIGTERM and SIGKILL for this kill; 0 sends SIGKILL at once. Default: the run's. */
  readonly graceMs?: number | undefined;
}

/** One running attempt. */
export interface HandlerRun {
  /** The handler's process id (and process group id); undefined if it did not start. */
  readonly pid: number | undefined;
  /** When the attempt started, on the run's monotonic clock (ms). */
  readonly started: number;
  /**
   * How it ended. Never rejects. Settles only once the main process has exited and its process
   * group is empty or has been sent SIGKILL (see the module's invariants).
   */
  readonly done: Promise<HandlerOutcome>;
  /**
   * End the attempt now, e.g. because this node lost leadership: SIGTERM to the whole group at
   * once, SIGKILL after the grace. The outcome is `killed` with `reason` unless the handler had
   * already exited or timed out (the first cause wins). Does nothing once `done` has settled.
   * Several calls may only shorten the grace.
   * @throws HandlerAttemptOptionsError for a grace that is negative or too long (a caller's bug).
   */
  kill(reason: string, options?: KillOptions): void;
}

function checkMs(what: string, ms: number, min: number): void {
  if (!Number.isFinite(ms) || ms < min || ms > MAX_DURATION_MS) {
    throw new HandlerAttemptOptionsError(
      `${what} must be between ${min} and ${MAX_DURATION_MS} ms, got ${ms}`,
    );
  }
}

/** The spawn request for `options`; throws for an empty argv (the config loader refuses one). */
function spawnRequest(options: HandlerAttemptOptions): SpawnRequest {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.baseEnv ?? process.env)) {
    if (v !== undefined) env[k] = v;
  }
  Object.assign(env, options.env);
  const { run } = options;
  if (run.kind === "shell") {
    return { file: SHELL, args: ["-c", run.command], env, cwd: options.cwd };
  }
  const [file, ...args] = run.argv;
  if (file === undefined || file === "") {
    throw new HandlerAttemptOptionsError("handler argv must not be empty");
  }
  return { file, args, env, cwd: options.cwd };
}

/** Plain words for the errors a spawn commonly fails with. */
const SPAWN_ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied (is it executable?)",
  ENOEXEC: "not an executable format (a script needs a #! line)",
  EAGAIN: "too many processes",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
};

function spawnError(request: SpawnRequest, cause: unknown): HandlerSpawnError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const text =
    (code !== undefined ? SPAWN_ERRNO_TEXT[code] : undefined) ??
    (cause instanceof Error ? cause.message : String(cause));
  // Node reports a missing working directory as ENOENT of the program, which would send the
  // operator looking for the wrong file.
  const where =
    code === "ENOENT" && request.cwd !== undefined && !existsSync(request.cwd)
      ? `working directory ${request.cwd}: ${text}`
      : `${request.file}: ${text}`;
  return new HandlerSpawnError(
    request.file,
    code,
    `handler could not be started: ${where}${code !== undefined ? ` (${code})` : ""}`,
    cause,
  );
}

/**
 * Run one attempt of a handler: start `options.run` in a new process group with `options.env`
 * over the base environment, write `options.stdin` and close it, keep the tail of its output,
 * end its group on timeout or {@link HandlerRun.kill}, and report the outcome through `done`.
 * @throws HandlerAttemptOptionsError for invalid options (a caller's bug: a timeout or grace
 *   out of range, an empty argv); every failure of the handler itself goes through `done`.
 */
export function runHandlerAttempt(options: HandlerAttemptOptions): HandlerRun {
  checkMs("timeoutMs", options.timeoutMs, 1);
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  checkMs("killGraceMs", killGraceMs, 0);
  const request = spawnRequest(options);
  return new Attempt(request, options, killGraceMs);
}

/** The state of one attempt; see {@link HandlerRun}. */
class Attempt implements HandlerRun {
  readonly pid: number | undefined;
  readonly started: number;
  readonly done: Promise<HandlerOutcome>;

  private readonly now: () => number;
  private readonly tail = new OutputTail();
  private readonly child: SpawnedProcess | null = null;
  private resolve!: (outcome: HandlerOutcome) => void;

  private settled = false;
  /** The process is known to have started (`spawn` or `exit` seen). */
  private spawned = false;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | null = null;
  /** stdout and stderr have closed. */
  private closed = false;
  /** We stopped waiting for stdout and stderr to close. */
  private drained = false;
  /** Why we ended the handler, if we did before it exited. The first cause wins. */
  private cause: { kind: "timeout" } | { kind: "killed"; reason: string } | null = null;
  private termSent = false;
  private killSent = false;
  /** When the pending SIGKILL is due, on `now()`. */
  private killDue = Number.POSITIVE_INFINITY;

  private timeoutTimer: NodeJS.Timeout | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private drainTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly request: SpawnRequest,
    options: HandlerAttemptOptions,
    private readonly killGraceMs: number,
  ) {
    this.now = options.now ?? (() => performance.now());
    this.done = new Promise((resolve) => {
      this.resolve = resolve;
    });
    this.started = this.now();
    let child: SpawnedProcess;
    try {
      child = (options.spawner ?? nodeProcessSpawner).spawn(request);
    } catch (e) {
      this.pid = undefined;
      this.settle({
        kind: "spawn-failed",
        error: spawnError(request, e),
        durationMs: this.elapsed(),
      });
      return;
    }
    this.child = child;
    this.pid = child.pid;

    // Listeners go on before anything can emit: an unhandled stream 'error' (EPIPE on a stdin
    // the handler never reads) would otherwise crash the leader.
    child.on("spawn", () => {
      this.spawned = true;
    });
    child.on("error", (error) => this.onError(error));
    child.on("exit", (code, signal) => this.onExit(code, signal));
    child.on("close", () => {
      this.closed = true;
      this.tryFinish();
    });
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on("error", () => {});
      stream?.on("data", (chunk: Buffer | string) => {
        this.tail.write(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
      });
    }
    child.stdin?.on("error", () => {});
    child.stdin?.end(options.stdin);

    this.timeoutTimer = setTimeout(() => {
      this.timeoutTimer = undefined;
      if (this.exit === null && this.cause === null) this.cause = { kind: "timeout" };
      this.terminate(this.killGraceMs);
    }, options.timeoutMs);
  }

  kill(reason: string, options?: KillOptions): void {
    if (this.settled || this.child === null) return;
    const graceMs = options?.graceMs ?? this.killGraceMs;
    checkMs("graceMs", graceMs, 0);
    if (this.exit === null && this.cause === null) this.cause = { kind: "killed", reason };
    this.terminate(graceMs);
  }

  private elapsed(): number {
    return Math.max(0, this.now() - this.started);
  }

  private onError(error: Error): void {
    // Node emits 'error' instead of 'spawn' when the process could not start. Any later
    // 'error' (Node's own kill failing, say) changes nothing: exit and close still come.
    if (this.settled || this.spawned || this.exit !== null) return;
    this.settle({
      kind: "spawn-failed",
      error: spawnError(this.request, error),
      durationMs: this.elapsed(),
    });
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.settled || this.exit !== null) return;
    this.spawned = true;
    this.exit = { code, signal };
    clearTimeout(this.timeoutTimer);
    this.timeoutTimer = undefined;
    // Whatever the handler left running in its group (`cmd &` in a script) is part of this run
    // and must not outlive it, or it could overlap the next attempt.
    if (this.groupAlive()) this.terminate(this.killGraceMs);
    this.drainTimer = setTimeout(() => {
      this.drainTimer = undefined;
      this.drained = true;
      this.child?.stdout?.destroy();
      this.child?.stderr?.destroy();
      this.tryFinish();
    }, this.killGraceMs + DRAIN_AFTER_GRACE_MS);
    this.tryFinish();
  }

  private groupAlive(): boolean {
    try {
      return this.child?.signalGroup(0) ?? false;
    } catch {
      return false;
    }
  }

  private signal(signal: NodeJS.Signals): void {
    try {
      this.child?.signalGroup(signal);
    } catch {
      // A fake that throws: nothing more can be done, and done still settles via the drain.
    }
  }

  /**
   * Start ending the group: SIGTERM now (once), SIGKILL `graceMs` later, or at once for 0. A
   * second call can only bring the SIGKILL forward.
   */
  private terminate(graceMs: number): void {
    if (this.settled || this.killSent) return;
    if (this.exit !== null && !this.groupAlive()) return;
    if (graceMs <= 0) {
      this.sendKill();
      return;
    }
    if (!this.termSent) {
      this.termSent = true;
      this.signal("SIGTERM");
    }
    const due = this.now() + graceMs;
    if (due < this.killDue) {
      this.killDue = due;
      clearTimeout(this.killTimer);
      this.killTimer = setTimeout(() => this.sendKill(), graceMs);
    }
  }

  private sendKill(): void {
    clearTimeout(this.killTimer);
    this.killTimer = undefined;
    if (this.settled || this.killSent) return;
    this.killSent = true;
    this.signal("SIGKILL");
    this.tryFinish();
  }

  /** Settle once the main process exited, its pipes are done with, and its group is ended. */
  private tryFinish(): void {
    if (this.settled || this.exit === null || !(this.closed || this.drained)) return;
    if (!this.killSent && this.groupAlive()) {
      // Stragglers got SIGTERM in onExit; wait for them to go, or for the SIGKILL.
      if (!this.termSent) this.terminate(this.killGraceMs);
      this.pollTimer ??= setInterval(() => this.tryFinish(), GROUP_POLL_MS);
      return;
    }
    const durationMs = this.elapsed();
    const output = this.tail.toOutput();
    const { cause, exit } = this;
    if (cause?.kind === "timeout") this.settle({ kind: "timeout", durationMs, output });
    else if (cause?.kind === "killed")
      this.settle({ kind: "killed", reason: cause.reason, durationMs, output });
    else
      this.settle({
        kind: "exited",
        code: exit.code,
        signal: exit.signal,
        durationMs,
        output,
      });
  }

  private settle(outcome: HandlerOutcome): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timeoutTimer);
    clearTimeout(this.killTimer);
    clearTimeout(this.drainTimer);
    clearInterval(this.pollTimer);
    this.timeoutTimer = this.killTimer = this.drainTimer = this.pollTimer = undefined;
    if (outcome.kind === "spawn-failed") {
      this.child?.stdin?.destroy();
      this.child?.stdout?.destroy();
      this.child?.stderr?.destroy();
    }
    this.resolve(outcome);
  }
}
