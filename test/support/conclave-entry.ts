/**
 * How tests run the `conclave` executable: the build (`bin/conclave`, which loads dist/) when
 * it is current, else the sources under tsx. The build is what ships, and an agent starts from
 * it in a fraction of tsx's time, which on a 2-core machine is most of a cluster test's start.
 *
 * The shipped handlers (handlers/NAME, built from handlers/src/) follow the same choice.
 *
 * "Current": dist/src/main.js exists and is newer than every file under src/, raft/ and
 * handlers/src/, as
 * after `npm ci` (its prepare script builds) or `npm run build`. After an edit to the sources
 * the tests fall back to tsx, so they never run stale code. `CONCLAVE_TEST_RUNTIME=tsx` or
 * `=dist` forces one.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** Which entry runs the agent and the CLI. */
export type AgentRuntime = "tsx" | "dist";

/** The newest modification time of any file below `dir`, in ms. */
function newestBelow(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestBelow(p) : statSync(p).mtimeMs);
  }
  return newest;
}

let decided: AgentRuntime | null = null;

/** The runtime tests use by default (decided once per test process). */
export function defaultRuntime(): AgentRuntime {
  if (decided !== null) return decided;
  const forced = process.env.CONCLAVE_TEST_RUNTIME;
  if (forced === "tsx" || forced === "dist") return (decided = forced);
  const built = join(ROOT, "dist/src/main.js");
  const current =
    existsSync(built) &&
    statSync(built).mtimeMs >=
      Math.max(...["src", "raft", "handlers/src"].map((d) => newestBelow(join(ROOT, d))));
  return (decided = current ? "dist" : "tsx");
}

/** The arguments after `node` itself that run `conclave ARGS` (with `nodeFlags` for node). */
export function conclaveArgv(
  args: readonly string[],
  nodeFlags: readonly string[] = [],
  runtime: AgentRuntime = defaultRuntime(),
): string[] {
  return runtime === "tsx"
    ? [...nodeFlags, "--import=tsx", join(ROOT, "src/main.ts"), ...args]
    : [...nodeFlags, join(ROOT, "bin/conclave"), ...args];
}

/** The arguments after `node` itself that run the shipped handler `name` (`dns-rfc2136`, `vip`, ...). */
export function handlerArgv(
  name: string,
  args: readonly string[],
  runtime: AgentRuntime = defaultRuntime(),
): string[] {
  return runtime === "tsx"
    ? ["--import=tsx", join(ROOT, "handlers/src", `${name}.ts`), ...args]
    : [join(ROOT, "handlers", name), ...args];
}
