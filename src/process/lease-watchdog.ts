/**
 * The agent's side of the master lease watchdog (`bin/conclave-lease-watchdog`): a separate
 * small process in its own process group that runs `demote` for the agent's masters when the
 * agent stops renewing (a pause, a hang, or `kill -9`). See master-lease.ts for the timing.
 *
 * The agent renews after every acknowledgement that keeps it master, with the time left until
 * the watchdog must act; when it has no masters it says `idle`; on a clean stop it says `exit`.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { packagePath } from "../package-path.ts";

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
