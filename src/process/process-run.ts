/**
 * One run of a process group, the runner that handlers, check actions and service scripts all
 * go through: {@link runProcessGroup} starts the configured command in a new process group
 * with the given environment and standard input, keeps the tail of its output, ends the whole
 * group on timeout or {@link ProcessRun.kill}, and reports how it ended as a
 * {@link RunOutcome}. Nothing here knows about Raft, retries, leadership or checks; callers
 * build those on it.
 *
 * Invariants this module keeps, whatever the process does:
 * - {@link ProcessRun.done} always settles and never rejects: a process that cannot start,
 *   fails, hangs, ignores SIGTERM, prints binary or prints without end is reported through
 *   the union, never thrown.
 * - The process runs in its own process group (it is started `detached`, so it leads a new
 *   session and group); a timeout, {@link ProcessRun.kill} and the end of the run signal the
 *   whole group, so processes a shell script started in the background are ended too.
 * - `done` settles only when the main process has exited, its output pipes have closed (or
 *   stopped being waited for), and its process group is empty or has been sent SIGKILL. So
 *   once `done` settles the caller may start the next run without two runs of one job (an
 *   (event, handler) pair, a check's action, a service's script) overlapping on this machine.
 * - At most `OUTPUT_TAIL_BYTES` of output are kept, however much the process prints.
 *
 * POSIX only (process groups, `/bin/sh`).
 */
import { OutputTail } from "./output-tail.ts";
import { nodeProcessSpawner, type SpawnedProcess, type SpawnRequest } from "./process-spawner.ts";
import {
  checkDurationMs,
  DEFAULT_KILL_GRACE_MS,
  type KillOptions,
  type RunOptions,
  spawnRequestFor,
} from "./run-options.ts";
import type { RunOutcome } from "./run-outcome.ts";
import { type Cause, type Exit, type Phase, RunTimers, type Signals, type TimerName } from "./run-phase.ts";
import { spawnError } from "./spawn-error.ts";

/**
 * After the main process has exited, how much longer (beyond the kill grace) to wait for its
 * stdout and stderr to close. They stay open only while some process still holds them; one in
 * the group is killed within the grace, so this only matters for a process that left the
 * group (e.g. `setsid`) while keeping the pipes. Then reading stops and the run ends anyway.
 */
const DRAIN_AFTER_GRACE_MS = 1000;

/** While waiting for a process group to empty after SIGTERM, how often to look. */
const GROUP_POLL_MS = 50;

/** One running process group. */
export interface ProcessRun {
  /** The main process's id (and process group id); undefined if it did not start. */
  readonly pid: number | undefined;
  /** When the run started, on the run's monotonic clock (ms). */
  readonly started: number;
  /**
   * How it ended. Never rejects. Settles only once the main process has exited and its process
   * group is empty or has been sent SIGKILL (see the module's invariants).
   */
  readonly done: Promise<RunOutcome>;
  /**
   * End the run now, e.g. because this node lost leadership: SIGTERM to the whole group at
   * once, SIGKILL after the grace. The outcome is `killed` with `reason` unless the process had
   * already exited or timed out (the first cause wins). Does nothing once `done` has settled.
   * Several calls may only shorten the grace.
   * @throws RunOptionsError for a grace that is negative or too long (a caller's bug).
   */
  kill(reason: string, options?: KillOptions): void;
  /**
   * Write one line to the process's control pipe (fd 3), if it has one and the run has not
   * settled. Never throws and never blocks: a pipe the process closed is ignored.
   */
  control(line: string): void;
}

/**
 * Run one process group: start `options.run` in a new process group with `options.env` over
 * the base environment, write `options.stdin` and close it, keep the tail of its output, end
 * its group on timeout or {@link ProcessRun.kill}, and report the outcome through `done`.
 * @throws RunOptionsError for invalid options (a caller's bug: a timeout or grace out of
 *   range, an empty argv); every failure of the process itself goes through `done`.
 */
export function runProcessGroup(options: RunOptions): ProcessRun {
  checkDurationMs("timeoutMs", options.timeoutMs, 1);
  const killGraceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  checkDurationMs("killGraceMs", killGraceMs, 0);
  const request = spawnRequestFor(options);
  return new GroupRun(request, options, killGraceMs);
}

/** The state of one run; see {@link ProcessRun}, and run-phase.ts for its phases. */
class GroupRun implements ProcessRun {
  readonly pid: number | undefined;
  readonly started: number;
  readonly done: Promise<RunOutcome>;

  private readonly now: () => number;
  private readonly tail = new OutputTail();
  private readonly child: SpawnedProcess | null = null;
  private resolve!: (outcome: RunOutcome) => void;
  private phase: Phase = { name: "spawning", cause: null, signals: { sent: "none" } };
  private readonly timers = new RunTimers();

  constructor(
    private readonly request: SpawnRequest,
    options: RunOptions,
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
      this.settle({ kind: "spawn-failed", error: spawnError(request, e), durationMs: this.elapsed() });
      return;
    }
    this.child = child;
    this.pid = child.pid;

    // Listeners go on before anything can emit: an unhandled stream 'error' (EPIPE on a stdin
    // the process never reads) would otherwise crash this process.
    child.on("spawn", () => this.onSpawn());
    child.on("error", (error) => this.onError(error));
    child.on("exit", (code, signal) => this.onExit({ code, signal }));
    child.on("close", () => this.onPipesDone(false));
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on("error", () => {});
      stream?.on("data", (chunk: Buffer | string) => {
        this.tail.write(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
      });
    }
    child.stdin?.on("error", () => {});
    child.control?.on("error", () => {});
    child.stdin?.end(options.stdin);

    this.arm("timeout", options.timeoutMs, () => this.onTimeout());
  }

  kill(reason: string, options?: KillOptions): void {
    if (this.phase.name === "settled" || this.child === null) return;
    const graceMs = options?.graceMs ?? this.killGraceMs;
    checkDurationMs("graceMs", graceMs, 0);
    this.setCause({ kind: "killed", reason });
    this.terminate(graceMs);
  }

  control(line: string): void {
    if (this.phase.name === "settled") return;
    const pipe = this.child?.control;
    if (pipe && !pipe.destroyed && pipe.writable) pipe.write(`${line}\n`);
  }

  private elapsed(): number {
    return Math.max(0, this.now() - this.started);
  }

  // ------------------------------------------------------------------- events

  private onSpawn(): void {
    const p = this.phase;
    if (p.name === "spawning") this.phase = { ...p, name: "running" };
  }

  private onError(error: Error): void {
    // Node emits 'error' instead of 'spawn' when the process could not start. Any later
    // 'error' (Node's own kill failing, say) changes nothing: exit and close still come.
    if (this.phase.name !== "spawning") return;
    this.settle({ kind: "spawn-failed", error: spawnError(this.request, error), durationMs: this.elapsed() });
  }

  private onTimeout(): void {
    this.setCause({ kind: "timeout" });
    this.terminate(this.killGraceMs);
  }

  private onExit(exit: Exit): void {
    const p = this.phase;
    if (p.name !== "spawning" && p.name !== "running") return;
    this.disarm("timeout");
    this.phase = { name: "exited", cause: p.cause, signals: p.signals, exit, pipes: "open" };
    // Whatever the process left running in its group (`cmd &` in a script) is part of this run
    // and must not outlive it, or it could overlap the next run.
    if (this.groupAlive()) this.terminate(this.killGraceMs);
    this.arm("drain", this.killGraceMs + DRAIN_AFTER_GRACE_MS, () => this.onPipesDone(true));
    this.tryFinish();
  }

  /** stdout and stderr closed (`close`), or, when `abandoned`, the drain timer gave up on them. */
  private onPipesDone(abandoned: boolean): void {
    const p = this.phase;
    if (p.name !== "exited" || p.pipes === "done") return;
    this.phase = { ...p, pipes: "done" };
    this.disarm("drain");
    if (abandoned) {
      this.child?.stdout?.destroy();
      this.child?.stderr?.destroy();
    }
    this.tryFinish();
  }

  // ------------------------------------------------------------------- the group

  /** Record why we end the group, unless it already exited or a cause was recorded first. */
  private setCause(cause: NonNullable<Cause>): void {
    const p = this.phase;
    if ((p.name === "spawning" || p.name === "running") && p.cause === null) this.phase = { ...p, cause };
  }

  /** Advance the live phase's signals (the caller checked the order). */
  private setSignals(signals: Signals): void {
    const p = this.phase;
    if (p.name !== "settled") this.phase = { ...p, signals };
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
   * second call can only bring the SIGKILL forward. The phase is updated before each signal
   * is sent, so a spawner that reports the exit from inside `signalGroup` sees it current.
   */
  private terminate(graceMs: number): void {
    const p = this.phase;
    if (p.name === "settled" || p.signals.sent === "SIGKILL") return;
    if (p.name === "exited" && !this.groupAlive()) return;
    if (graceMs <= 0) {
      this.sendKill();
      return;
    }
    const q = this.phase; // re-read: signalGroup(0) may have reported the end
    if (q.name === "settled" || q.signals.sent === "SIGKILL") return;
    const killDue = this.now() + graceMs;
    if (q.signals.sent === "SIGTERM" && q.signals.killDue <= killDue) return;
    const first = q.signals.sent === "none";
    this.setSignals({ sent: "SIGTERM", killDue });
    if (first) this.signal("SIGTERM");
    this.arm("kill", graceMs, () => this.sendKill());
  }

  private sendKill(): void {
    this.disarm("kill");
    const p = this.phase;
    if (p.name === "settled" || p.signals.sent === "SIGKILL") return;
    this.setSignals({ sent: "SIGKILL" });
    this.signal("SIGKILL");
    this.tryFinish();
  }

  // ------------------------------------------------------------------- the end

  /** Settle once the main process exited, its pipes are done with, and its group is ended. */
  private tryFinish(): void {
    const p = this.phase;
    if (p.name !== "exited" || p.pipes === "open") return;
    if (p.signals.sent !== "SIGKILL" && this.groupAlive()) {
      // Stragglers got SIGTERM in onExit; wait for them to go, or for the SIGKILL.
      if (p.signals.sent === "none") this.terminate(this.killGraceMs);
      if (!this.timers.has("poll")) this.arm("poll", GROUP_POLL_MS, () => this.tryFinish(), true);
      return;
    }
    const durationMs = this.elapsed();
    const output = this.tail.toOutput();
    const { cause, exit } = p;
    if (cause?.kind === "timeout") this.settle({ kind: "timeout", durationMs, output });
    else if (cause?.kind === "killed")
      this.settle({ kind: "killed", reason: cause.reason, durationMs, output });
    else this.settle({ kind: "exited", code: exit.code, signal: exit.signal, durationMs, output });
  }

  private settle(outcome: RunOutcome): void {
    if (this.phase.name === "settled") return;
    this.phase = { name: "settled", outcome };
    this.timers.disarmAll();
    // The control pipe's end tells a lease watcher that nobody renews any more.
    this.child?.control?.destroy();
    if (outcome.kind === "spawn-failed") {
      this.child?.stdin?.destroy();
      this.child?.stdout?.destroy();
      this.child?.stderr?.destroy();
    }
    this.resolve(outcome);
  }

  // ------------------------------------------------------------------- timers

  /** Arm timer `name` unless settled, so that no timer outlives the run. */
  private arm(name: TimerName, ms: number, fire: () => void, repeat = false): void {
    if (this.phase.name !== "settled") this.timers.arm(name, ms, fire, repeat);
  }

  private disarm(name: TimerName): void {
    this.timers.disarm(name);
  }
}
