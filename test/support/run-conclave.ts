/**
 * Run the `conclave` executable from the sources as a user would, for tests of the command
 * line: exit code, stdout and stderr.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { conclaveArgv } from "./conclave-entry.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** The outcome of one run. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `conclave ARGS` (the build when current, else the sources: conclave-entry.ts; cwd: the repository). */
export function conclave(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      conclaveArgv(args),
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}
