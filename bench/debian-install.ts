/**
 * Installing a Debian package a benchmark compares against (etcd-server, serf) when its
 * command is missing: `apt-get install -y` as root, or through `sudo -n` otherwise, with an
 * `apt-get update` and one more try when the first attempt fails.
 */
import { spawnSync } from "node:child_process";

/** Whether the tool is usable, and its version, or why not. */
export type ToolAvailability = { ok: true; version: string } | { ok: false; reason: string };

/** Run a command, returning its combined output and whether it succeeded. */
function run(cmd: string, args: string[]): { ok: boolean; output: string } {
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    timeout: 600_000,
  });
  const output = `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`;
  return { ok: !r.error && r.status === 0, output };
}

/**
 * Make sure `command` is available (`version()` returns its version, or undefined when it is
 * missing), installing Debian's `pkg` otherwise. Never throws: a failure (no network, not
 * root, not Debian) comes back as `{ ok: false, reason }`. `log` receives progress lines.
 */
export function ensureDebianTool(options: {
  command: string;
  pkg: string;
  version: () => string | undefined;
  log: (line: string) => void;
}): ToolAvailability {
  const { command, pkg, version, log } = options;
  const found = version();
  if (found) return { ok: true, version: found };
  const root = process.getuid?.() === 0;
  const [cmd, prefix] = root ? ["apt-get", []] : ["sudo", ["-n", "apt-get"]];
  log(
    `${command} is not on PATH: installing Debian's ${pkg} (${root ? "" : "sudo -n "}apt-get install -y ${pkg})`,
  );
  let r = run(cmd, [...prefix, "install", "-y", pkg]);
  if (!r.ok) {
    log("apt-get install failed; running apt-get update and trying again");
    const u = run(cmd, [...prefix, "update"]);
    r = u.ok ? run(cmd, [...prefix, "install", "-y", pkg]) : u;
  }
  const installed = version();
  if (installed) return { ok: true, version: installed };
  const last = r.output.trim().split("\n").slice(-3).join(" | ");
  return { ok: false, reason: `could not install ${pkg}: ${last || `${command} still not on PATH`}` };
}
