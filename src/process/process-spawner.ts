/**
 * The spawning seam of the process-group runner: what to start ({@link SpawnRequest}), the
 * parts of a started process the runner uses ({@link SpawnedProcess}), and the real spawner on
 * `node:child_process` ({@link nodeProcessSpawner}) that starts each process as the leader of
 * its own process group and signals the whole group. Tests substitute a fake
 * {@link ProcessSpawner}.
 *
 * Invariant: a group started here whose main process has not exited yet is sent SIGKILL when
 * this Node process exits, so a run never outlives the process that started it.
 */
import { spawn as spawnChild } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { groupHasLiveMember } from "./process-group-state.ts";

/** What to start: a program, its arguments, its whole environment and working directory. */
export interface SpawnRequest {
  /** The program: an absolute path, or a name looked up in `env.PATH`. */
  readonly file: string;
  /** Its arguments, without `file` itself. */
  readonly args: readonly string[];
  /** The complete environment of the new process. */
  readonly env: Readonly<Record<string, string>>;
  /** Working directory, or undefined for this process's own. */
  readonly cwd: string | undefined;
  /**
   * Whether the process gets a fourth pipe, on its fd 3, that this process writes to: the
   * renewals of a run's lease (lease-watchdog.ts). Its end is also the news that we are gone.
   */
  readonly controlPipe?: boolean | undefined;
}

/**
 * A started (or failed-to-start) process, shaped like the parts of Node's `ChildProcess` the
 * runner uses so that a fake can be an `EventEmitter` with `PassThrough` streams.
 *
 * Events, as `ChildProcess` emits them: `spawn` once it started; `error` with the reason if it
 * could not start (an `error` after `spawn` or `exit` is ignored); `exit` with
 * `(code, signal)` when the main process ended; `close` after `exit`, once its stdio streams
 * are closed too (a `close` before `exit` is ignored).
 */
export interface SpawnedProcess {
  /** The process id, also the id of its process group; undefined when it did not start. */
  readonly pid: number | undefined;
  /** The process's standard input. */
  readonly stdin: Writable | null;
  /** The process's standard output. */
  readonly stdout: Readable | null;
  /** The process's standard error. */
  readonly stderr: Readable | null;
  /** Its fd 3 when the request asked for a control pipe; null or absent otherwise. */
  readonly control?: Writable | null;
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

/** Starts processes; the seam where tests substitute a fake. */
export interface ProcessSpawner {
  /**
   * Start `request` in a new process group, stdin/stdout/stderr piped. May throw for a request
   * Node rejects outright (e.g. a NUL byte in an argument); the runner reports that as
   * `spawn-failed` too.
   */
  spawn(request: SpawnRequest): SpawnedProcess;
}

/**
 * Groups started by {@link nodeProcessSpawner} whose main process has not exited yet. When this
 * process exits (normally or on an uncaught exception) they are sent SIGKILL, so that, e.g., a
 * handler does not outlive the leader that started it and overlap the next leader's retry.
 * (A process killed by a signal cannot do this; systemd's `KillMode=control-group` covers that.)
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
 * The real spawner, on `node:child_process`: `detached: true`, so the child leads its own
 * session and process group (pgid = pid) and its whole group can be signalled with
 * `process.kill(-pid, ...)`; signals start at their defaults in the child (libuv resets them).
 */
export const nodeProcessSpawner: ProcessSpawner = {
  spawn(request: SpawnRequest): SpawnedProcess {
    const child = spawnChild(request.file, [...request.args], {
      cwd: request.cwd,
      env: { ...request.env },
      detached: true,
      stdio: request.controlPipe ? ["pipe", "pipe", "pipe", "pipe"] : ["pipe", "pipe", "pipe"],
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
      control: request.controlPipe ? ((child.stdio[3] as Writable | null | undefined) ?? null) : null,
      on(event: string, listener: (...args: never[]) => void) {
        // The interface's overloads name each event's arguments; ChildProcess emits exactly those.
        child.on(event, listener as (...args: unknown[]) => void);
        return this;
      },
      signalGroup(signal: NodeJS.Signals | 0): boolean {
        if (pid === undefined) return false;
        try {
          process.kill(-pid, signal);
          // Zombies answer signal 0 too, but a group of zombies runs nothing.
          return signal === 0 ? (groupHasLiveMember(pid) ?? true) : true;
        } catch (e) {
          // ESRCH: no process left in the group. EPERM: members we may not signal, which
          // still exist; anything else, assume they do.
          return (e as NodeJS.ErrnoException).code !== "ESRCH";
        }
      },
    };
  },
};
