/**
 * The named errors of the LevelDB log store, and the mapping of classic-level's open
 * failures onto them. Each names the data dir, so an operator can tell which node's disk
 * is at fault; none is ever answered by deleting or rewriting data.
 */

/** What was wrong with a data dir that `LevelLogStore.open` (log-store-level.ts) refused. */
export type DataDirProblem = "missing" | "corrupt" | "torn" | "unexpected" | "inconsistent" | "unsupported";

/**
 * The data dir failed verification at open. Nothing was deleted, truncated or rewritten:
 * the store refuses to start so that an operator can look at (or restore) the data, because
 * silently dropping a log suffix a node has acknowledged could break Raft's safety.
 */
export class DataDirCorruptError extends Error {
  override readonly name = "DataDirCorruptError";

  constructor(
    /** The data dir, as an absolute path. */
    readonly dir: string,
    /** What is affected, e.g. "log entry 1234" or "hard state". */
    readonly subject: string,
    /** The kind of problem. */
    readonly problem: DataDirProblem,
    /** Details for the operator. */
    readonly detail: string,
    /** The log index concerned, when the problem is with one entry. */
    readonly index?: number,
    options?: ErrorOptions,
  ) {
    super(
      `data dir ${dir}: ${subject} is ${problem} (${detail}); refusing to start, nothing was changed`,
      options,
    );
  }
}

/** Another process (or another store in this process) holds the data dir's LevelDB lock. */
export class DataDirLockedError extends Error {
  override readonly name = "DataDirLockedError";

  constructor(
    /** The data dir, as an absolute path. */
    readonly dir: string,
    options?: ErrorOptions,
  ) {
    super(`data dir ${dir} is locked by another process (is another conclave agent running?)`, options);
  }
}

/**
 * A write to the data dir failed. The store then refuses every further write: after a
 * failed fsync LevelDB cannot say what reached the disk, so the only safe continuation is
 * to stop and let the next `open` verify what is there. The in-memory mirror still shows
 * the state before the failed write.
 */
export class LogStoreWriteError extends Error {
  override readonly name = "LogStoreWriteError";

  constructor(
    /** The data dir, as an absolute path. */
    readonly dir: string,
    options?: ErrorOptions,
  ) {
    const cause = options?.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(`data dir ${dir}: a write failed${cause}; the log store accepts no more writes`, options);
  }
}

/** A write was requested after the log store was closed: it takes no more writes. */
export class LogStoreClosedError extends Error {
  override readonly name = "LogStoreClosedError";

  constructor(
    /** The data dir, as an absolute path. */
    readonly dir: string,
  ) {
    super(`data dir ${dir}: the log store is closed`);
  }
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Maps a failure while opening or verifying to the store's named errors (other failures are
 * returned as they are). classic-level reports a failed open as LEVEL_DATABASE_NOT_OPEN
 * whose `cause` says why: LEVEL_LOCKED (message "IO error: lock .../LOCK: ...") or
 * LEVEL_CORRUPTION (LevelDB's own checksums).
 */
export function openError(dir: string, err: unknown): unknown {
  if (err instanceof DataDirCorruptError) return err;
  const cause = (err as Error | null)?.cause as Error | undefined;
  if (
    errorCode(err) === "LEVEL_LOCKED" ||
    errorCode(cause) === "LEVEL_LOCKED" ||
    /\block\b/i.test(cause?.message ?? "")
  ) {
    return new DataDirLockedError(dir, { cause: err });
  }
  for (const e of [err, cause]) {
    if (errorCode(e) === "LEVEL_CORRUPTION") {
      return new DataDirCorruptError(
        dir,
        "the LevelDB database",
        "corrupt",
        (e as Error).message,
        undefined,
        {
          cause: err,
        },
      );
    }
  }
  return err;
}
