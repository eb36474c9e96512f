/**
 * Our side of the lease watchdog (`bin/conclave-lease-watchdog`), the one mechanism that ends
 * what must not outlive a lease when its holder stops renewing it (a pause, a hang, a lost
 * quorum, or `kill -9`). Two uses:
 *
 * - **Masters** ({@link LeaseWatchdog}, on the member agent): a separate small process in its own
 *   process group that runs `demote` for the agent's masters. The agent renews after every
 *   acknowledgement that keeps it master, with the time left until the watchdog must act; when
 *   it has no masters it says `idle`; on a clean stop it says `exit`. Timing: master-lease.ts.
 * - **Handler runs** ({@link leaseGuardedRun}, on the leader): the run starts as the watchdog's
 *   `--run` mode, which starts a watcher in the run's own process group and then execs the
 *   handler. The leader writes {@link renewalLine}s to the run's control pipe (fd 3); when the
 *   deadline passes, or the pipe ends, the watcher kills the whole group. Waiting costs one
 *   blocked `read`, no fork. Timing: handler-lease.ts.
 *
 * Handler deadlines are absolute times on the boot clock ({@link bootClockCs}), so a watcher
 * that is itself slow to read a renewal can never stretch a lease.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Run } from "../config/node-config.ts";
import { packagePath } from "../package-path.ts";

/**
 * The boot clock (Linux CLOCK_BOOTTIME, the first field of /proc/uptime) in centiseconds: the
 * clock the watchdog reads without forking. It never jumps (wall-clock changes do not touch it).
 */
export function bootClockCs(): number {
  const [seconds] = readFileSync("/proc/uptime", "latin1").split(" ");
  return Math.floor(Number(seconds) * 100);
}

/**
 * The boot-clock deadline `msFromNow` milliseconds from now, rounded down (a lease may end a
 * little early, never late).
 */
export function bootDeadlineCs(msFromNow: number): number {
  return bootClockCs() + Math.floor(msFromNow / 10);
}

/**
 * `run` started under the watchdog's `--run` mode with a first deadline of `deadlineCs` (boot
 * clock): the program execs in place (same pid, exit status and stdio), watched from fd 3.
 * Start it with a control pipe (`controlPipe: true`) and renew with {@link renewalLine}.
 */
export function leaseGuardedRun(run: Run, deadlineCs: number): Run {
  const argv = run.kind === "argv" ? [...run.argv] : ["/bin/sh", "-c", run.command];
  return { kind: "argv", argv: ["bash", watchdogScriptPath(), "--run", String(deadlineCs), ...argv] };
}

/**
 * How a handler run is guarded: the program to start for `run` with a first lease deadline of
 * `deadlineCs`. The seam the handler runner takes; {@link leaseGuardedRun} in production (the
 * fault-injection switch alone substitutes another: src/fault-injection/).
 */
export type RunGuard = (run: Run, deadlineCs: number) => Run;

/** The exit status of a guarded run whose lease had ended before the program could start. */
export const LEASE_EXPIRED_EXIT = 75;

/** The control-pipe line that moves a guarded run's deadline to `deadlineCs` (never earlier). */
export function renewalLine(deadlineCs: number): string {
  return `renew ${deadlineCs}`;
}

/** What the watchdog reports after running a demote. */
export interface WatchdogDemotion {
  readonly service: string;
  readonly epoch: number;
  readonly exitCode: number;
}

/** The seam the service manager uses, so tests can substitute it. */
export interface LeaseGuard {
  /** Demote `masters` (in this order) unless renewed within `deadlineMs`; kill each after `budgetMs`. */
  renew(deadlineMs: number, budgetMs: number, masters: readonly { service: string; epoch: number }[]): void;
  /** No masters now. */
  idle(): void;
  /** Clean stop: the agent demoted by itself. */
  stop(): Promise<void>;
}

/**
 * Where the watchdog script is (`bin/conclave-lease-watchdog`).
 * @throws PackageFileNotFoundError when the package lacks it
 */
export function watchdogScriptPath(): string {
  return packagePath("bin/conclave-lease-watchdog");
}

/** The real watchdog process. */
export class LeaseWatchdog implements LeaseGuard {
  private readonly child: ChildProcess;
  private last = "";
  /**
   * Resolves once the watchdog's output has ended and every `demoted` line in it has reached
   * `onDemoted`: after this, no further demotion can be reported (tests wait for it instead of
   * sleeping).
   */
  readonly outputEnded: Promise<void>;

  /**
   * Start the watchdog for `servicesDir`. `onDemoted` hears of each demote it ran (so the agent,
   * if it was only paused, knows the service is already down).
   */
  constructor(servicesDir: string, onDemoted: (d: WatchdogDemotion) => void) {
    this.child = spawn("bash", [watchdogScriptPath(), servicesDir], {
      stdio: ["pipe", "pipe", "inherit"],
      // Its own process group: a Ctrl-C or a signal to the agent's group does not reach it.
      detached: true,
    });
    this.child.stdin?.on("error", () => {});
    const lines = createInterface({ input: this.child.stdout! });
    lines.on("line", (line) => {
      const m = /^demoted (\S+) (\d+) (\d+)$/.exec(line);
      if (m) onDemoted({ service: m[1]!, epoch: Number(m[2]), exitCode: Number(m[3]) });
    });
    this.outputEnded = new Promise((resolve) => lines.once("close", () => resolve()));
    this.child.unref();
    (this.child.stdout as unknown as { unref?: () => void }).unref?.();
  }

  /** The watchdog's pid (tests pause and kill around it). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  private send(line: string): void {
    this.last = line;
    this.child.stdin?.write(`${line}\n`);
  }

  renew(deadlineMs: number, budgetMs: number, masters: readonly { service: string; epoch: number }[]): void {
    if (masters.length === 0) {
      if (this.last !== "idle") this.send("idle");
      return;
    }
    const list = masters.map((m) => `${m.service}=${m.epoch}`).join(" ");
    this.send(`lease ${Math.max(0, Math.floor(deadlineMs))} ${Math.max(1, Math.floor(budgetMs))} ${list}`);
  }

  idle(): void {
    if (this.last !== "idle") this.send("idle");
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.send("exit");
    this.child.stdin?.end();
    await Promise.race([exited, new Promise((r) => setTimeout(r, 1000))]);
  }
}
