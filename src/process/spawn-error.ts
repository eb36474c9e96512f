/**
 * Why a process could not be started at all, in words an operator can act on: the
 * {@link SpawnError} that a `spawn-failed` outcome carries, and {@link spawnError}, which turns
 * Node's error for a {@link SpawnRequest} into one. Never thrown by the runner: a start failure
 * is an outcome, since it is the configured command's fault, not the caller's.
 */
import { existsSync } from "node:fs";
import type { SpawnRequest } from "./process-spawner.ts";

/**
 * A process could not be started (no such file, not executable, bad working directory, out
 * of processes). Carried by the `spawn-failed` outcome; never thrown.
 */
export class SpawnError extends Error {
  override readonly name = "SpawnError";
  /** The program that was to be run: `argv[0]`, or the shell for a shell command. */
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

/** Plain words for the errors a spawn commonly fails with. */
const SPAWN_ERRNO_TEXT: Readonly<Record<string, string>> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied (is it executable?)",
  ENOEXEC: "not an executable format (a script needs a #! line)",
  EAGAIN: "too many processes",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
};

/**
 * The {@link SpawnError} for `request` failing with `cause` (what `spawn` threw or emitted).
 * The message names the working directory instead of the program when that is what is
 * missing, since Node reports both as ENOENT.
 */
export function spawnError(request: SpawnRequest, cause: unknown): SpawnError {
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
  // "handler" is the wording events have always carried; check actions and service scripts
  // share it, so the message stays as operators and their alerting know it.
  return new SpawnError(
    request.file,
    code,
    `handler could not be started: ${where}${code !== undefined ? ` (${code})` : ""}`,
    cause,
  );
}
