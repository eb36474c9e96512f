/**
 * The data dir's permissions: it holds the cluster's whole log (every kv value, every event),
 * so it is made owner-only (0700), and an existing one that its group or others can enter or
 * read is reported, not refused (an operator may share it on purpose, e.g. with a backup
 * user; refusing would stop the elector over a choice that does not break it).
 */
import { mkdir, stat } from "node:fs/promises";
import { octalMode } from "../fs-reason.ts";

/** The mode a new data dir (and any missing parent) is created with. */
export const DATA_DIR_MODE = 0o700;

/**
 * Make `dir` (absolute) with its missing parents, mode {@link DATA_DIR_MODE} (less only if the
 * umask takes more away), or find it there.
 * @returns the warning to log when an existing dir is open to its group or others, else null
 */
export async function ensureDataDir(dir: string): Promise<string | null> {
  const created = await mkdir(dir, { recursive: true, mode: DATA_DIR_MODE });
  if (created !== undefined) return null;
  const { mode } = await stat(dir);
  if ((mode & 0o077) === 0) return null;
  return `data dir ${dir} has mode ${octalMode(mode)}: its group or others can access the cluster's log (chmod 700 ${dir})`;
}
