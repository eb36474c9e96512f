/**
 * The commands the `vip` script runs: iproute2's `ip addr show/add/del` and iputils'
 * `arping -U`. Each runs as a child process with a deadline; its outcome is returned or
 * thrown as a named error, never left to hang.
 *
 * Invariants:
 * - A program that cannot be started (not found, not executable) is a
 *   {@link VipCommandMissingError} naming its setting (exit 2); one that runs and fails is a
 *   {@link VipCommandError} carrying its stderr (exit 1).
 * - `add` of an address already present and `del` of one already gone count as done, so
 *   two runs racing (the agent's demote and the lease watchdog's) both succeed.
 */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import { parseIp } from "./ip-bytes.ts";
import { describeFailure, type ProgramRun, ProgramStartError, runProgram } from "./run-program.ts";
import { cidr, settingLabel, type VipAddress, VipSettingsError } from "./vip-settings.ts";

/** How long an `ip` command may take before it is killed. */
const IP_TIMEOUT_MS = 10_000;

/** `ip`, `arping` or another program cannot be started; exit 2, naming its setting. */
export class VipCommandMissingError extends VipSettingsError {
  override readonly name = "VipCommandMissingError";
}

/** The interface named by `--interface` does not exist (in this network namespace). */
export class VipInterfaceMissingError extends VipSettingsError {
  override readonly name = "VipInterfaceMissingError";
}

/** A command ran and failed (non-zero exit, a signal, or its deadline); exit 1. */
export class VipCommandError extends Error {
  override readonly name = "VipCommandError";
}

/** Which setting names a program, for messages about it. */
type ProgramSetting = "ip" | "arping";

/** A program to run and the setting it came from. */
export interface Program {
  readonly path: string;
  readonly setting: ProgramSetting;
}

/**
 * Where `program` is: itself when it holds a `/`, else the first executable of that name in
 * `pathVar`'s directories.
 * @throws VipCommandMissingError naming `setting` when there is none.
 */
export function findProgram(program: string, setting: ProgramSetting, pathVar: string | undefined): Program {
  const executable = (p: string) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (program.includes("/")) {
    if (executable(program)) return { path: program, setting };
    throw new VipCommandMissingError(`${settingLabel(setting)}: ${program} is not an executable file`);
  }
  for (const dir of (pathVar ?? "").split(delimiter)) {
    if (dir !== "" && executable(join(dir, program))) return { path: join(dir, program), setting };
  }
  const hint = setting === "ip" ? "install iproute2" : "install iputils-arping";
  throw new VipCommandMissingError(
    `${settingLabel(setting)}: ${program} not found in PATH (${pathVar ?? ""}); ${hint} or give its path`,
  );
}

/** `ip addr add 10.0.0.1/24 dev eth0`, as shown in messages. */
function shown(p: Program, args: readonly string[]): string {
  return [p.setting, ...args].join(" ");
}

/** Run `p` with `args` until it exits or `timeoutMs` passes (then SIGKILL). */
async function run(p: Program, args: readonly string[], timeoutMs: number): Promise<ProgramRun> {
  try {
    return await runProgram({ path: p.path, args, timeoutMs });
  } catch (e) {
    if (!(e instanceof ProgramStartError)) throw e;
    throw new VipCommandMissingError(
      `${settingLabel(p.setting)}: cannot run ${p.path}: ${e.code ?? ""} ${e.message}`.replace(/ +/g, " "),
    );
  }
}

/** A {@link VipCommandError} for a command that did not exit 0. */
function failed(p: Program, args: readonly string[], r: ProgramRun): VipCommandError {
  return new VipCommandError(describeFailure(shown(p, args), r));
}

/** One address on an interface, as `ip -o addr show` lists it. */
export interface InterfaceAddress {
  /** Canonical address text (as {@link parseIp} gives it). */
  readonly address: string;
  readonly prefix: number;
}

/**
 * The addresses in `ip -o addr show` output: one line per address, `N: IF inet ADDR/PREFIX
 * ...` or `inet6`. A point-to-point `inet LOCAL peer PEER/PREFIX` gives LOCAL with the full
 * prefix length. Lines that do not parse are skipped.
 */
export function parseAddrShow(output: string): InterfaceAddress[] {
  const out: InterfaceAddress[] = [];
  for (const line of output.split("\n")) {
    const m = /\binet6?\s+([0-9A-Fa-f.:]+)(?:\/(\d+))?/.exec(line);
    if (!m) continue;
    const ip = parseIp(m[1]!);
    if (!ip) continue;
    out.push({ address: ip.text, prefix: m[2] === undefined ? (ip.type === "A" ? 32 : 128) : Number(m[2]) });
  }
  return out;
}

/**
 * The addresses on interface `ifname` with the same address as `vip` (any prefix length).
 * @throws VipInterfaceMissingError when the interface does not exist; VipCommandError when
 *   `ip` fails otherwise.
 */
export async function findAddress(ip: Program, ifname: string, vip: VipAddress): Promise<InterfaceAddress[]> {
  const args = ["-o", "addr", "show", "dev", ifname];
  const r = await run(ip, args, IP_TIMEOUT_MS);
  if (r.code !== 0) {
    if (/does not exist/i.test(r.stderr)) {
      throw new VipInterfaceMissingError(
        `${settingLabel("interface")}: there is no interface ${ifname} (in this network namespace)`,
      );
    }
    throw failed(ip, args, r);
  }
  return parseAddrShow(r.stdout).filter((a) => a.address === vip.ip.text);
}

/** `ip addr add ADDR/PREFIX dev IF`; done already ("already assigned", "File exists") is fine. */
export async function addAddress(ip: Program, ifname: string, vip: VipAddress): Promise<void> {
  const args = ["addr", "add", cidr(vip), "dev", ifname];
  const r = await run(ip, args, IP_TIMEOUT_MS);
  if (r.code !== 0 && !/already assigned|File exists/i.test(r.stderr)) throw failed(ip, args, r);
}

/** `ip addr del ADDR/PREFIX dev IF`; gone already ("not found", "Cannot assign") is fine. */
export async function deleteAddress(ip: Program, ifname: string, a: InterfaceAddress): Promise<void> {
  const args = ["addr", "del", `${a.address}/${a.prefix}`, "dev", ifname];
  const r = await run(ip, args, IP_TIMEOUT_MS);
  if (r.code !== 0 && !/not found|Cannot assign requested address/i.test(r.stderr)) {
    throw failed(ip, args, r);
  }
}

/**
 * Announce an IPv4 address: `arping -U -c COUNT -I IF ADDR` sends COUNT gratuitous ARP
 * requests from ADDR, one second apart, so neighbours update their caches to this machine's
 * MAC address (the second one also reaches a neighbour that ignored the first because its
 * entry had changed less than `locktime`, 1 s, before).
 */
export async function announce(
  arping: Program,
  ifname: string,
  vip: VipAddress,
  count: number,
): Promise<void> {
  const args = ["-U", "-c", String(count), "-I", ifname, vip.ip.text];
  const r = await run(arping, args, count * 1000 + 5000);
  if (r.code !== 0) throw failed(arping, args, r);
}
