/**
 * Reading `services_dir` (docs/services-and-masters.md): one folder per service holding executable
 * scripts `start`, `stop`, `status`, `promote`, `demote`, `failed` (any may be missing) and an
 * optional `priority` file (a number; lower starts and promotes first, stops and demotes
 * last). Read once at agent start; a problem is a {@link ServicesDirError} naming the file.
 *
 * A `services_dir` that does not exist is no services, with a warning naming it (the example
 * configs name `/etc/conclave/services` for nodes that may never run one); one that exists but
 * cannot be read, or is not a directory, is an error.
 */
import { accessSync, constants, lstatSync, readdirSync, readFileSync, statSync } from "node:fs";
import { nameProblem } from "../../contract/names.ts";
import { join } from "node:path";

/** The scripts a service may have. */
export const SERVICE_SCRIPTS = ["start", "stop", "status", "promote", "demote", "failed"] as const;

/** One script name. */
export type ServiceScript = (typeof SERVICE_SCRIPTS)[number];

/** A service found in `services_dir`. */
export interface ServiceDefinition {
  readonly name: string;
  readonly dir: string;
  /** From the `priority` file; 0 when there is none. */
  readonly priority: number;
  /** Absolute paths of the scripts present (all executable). */
  readonly scripts: Readonly<Partial<Record<ServiceScript, string>>>;
}

/** `services_dir` or one of its services cannot be used; the message names the path. */
export class ServicesDirError extends Error {
  override readonly name = "ServicesDirError";
}

/**
 * The services in `dir`, sorted by priority then name (start and promote order; stop and
 * demote go in reverse). A `dir` that does not exist (nothing at that path, not even a
 * symbolic link) holds no services: `warn` is told, with the path, and the result is empty.
 * @throws ServicesDirError for a dir that exists but cannot be read or is not a directory (a
 *   symbolic link to nothing included), a bad name, a bad priority file, or a script that is
 *   present but not an executable file
 */
export function readServicesDir(
  dir: string,
  warn: (message: string) => void = () => {},
): ServiceDefinition[] {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() || d.isSymbolicLink())
      .map((d) => d.name)
      .filter((n) => !n.startsWith("."));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && !pathExists(dir)) {
      warn(`services_dir ${dir} does not exist: this node runs no services`);
      return [];
    }
    throw new ServicesDirError(`services_dir ${dir}: ${(e as Error).message}`);
  }
  const out: ServiceDefinition[] = [];
  for (const name of names) {
    const sdir = join(dir, name);
    let isDir: boolean;
    try {
      isDir = statSync(sdir).isDirectory();
    } catch (e) {
      // A symbolic link to nothing: say which, as for any other problem here.
      throw new ServicesDirError(`${sdir}: ${(e as Error).message}`);
    }
    if (!isDir) continue;
    // Service names follow the one name rule: they appear in events and env vars.
    const problem = nameProblem("service", name);
    if (problem !== null) throw new ServicesDirError(`${sdir}: ${problem}`);
    out.push({ name, dir: sdir, priority: readPriority(sdir), scripts: readScripts(sdir) });
  }
  return sortByPriority(out);
}

/** Whether anything, a dangling symbolic link included, is at `path` (a missing parent: no). */
function pathExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** `services` in start/promote order: priority, then name. */
export function sortByPriority<T extends { readonly name: string; readonly priority: number }>(
  services: readonly T[],
): T[] {
  return [...services].sort(
    (a, b) => a.priority - b.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
}

function readPriority(sdir: string): number {
  const file = join(sdir, "priority");
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw new ServicesDirError(`${file}: ${(e as Error).message}`);
  }
  const t = text.trim();
  if (!/^-?\d+$/.test(t) || !Number.isSafeInteger(Number(t))) {
    throw new ServicesDirError(
      `${file}: must hold a whole number (lower starts first), got ${JSON.stringify(t)}`,
    );
  }
  return Number(t);
}

function readScripts(sdir: string): Partial<Record<ServiceScript, string>> {
  const scripts: Partial<Record<ServiceScript, string>> = {};
  for (const s of SERVICE_SCRIPTS) {
    const path = join(sdir, s);
    let isFile: boolean;
    try {
      isFile = statSync(path).isFile();
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue; // a missing script is skipped
      throw new ServicesDirError(`${path}: ${(e as Error).message}`);
    }
    if (!isFile) throw new ServicesDirError(`${path}: must be an executable file`);
    try {
      accessSync(path, constants.X_OK);
    } catch {
      throw new ServicesDirError(`${path}: is not executable (chmod +x ${path})`);
    }
    scripts[s] = path;
  }
  return scripts;
}
