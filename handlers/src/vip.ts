/**
 * The `vip` service script: `vip up` puts a virtual IP on an interface of this machine and
 * announces it with gratuitous ARP; `vip down` takes it off. Meant as a service's `promote`
 * and `demote` scripts on the member (see the usage text in vip-settings.ts for why it is
 * not a leader-side handler).
 *
 * Invariants:
 * - Every setting, the interface (for `up`) and the programs are checked before anything
 *   changes, so an exit 2 leaves the machine as it was.
 * - `up` ends with the address on the interface exactly once, with the requested prefix
 *   length, and announced (IPv4) even when it was already there: an earlier `up` may have
 *   been killed between adding and announcing, and announcing twice is harmless.
 * - `down` ends with the address on no prefix length of the interface; absent already is
 *   success, and so is a missing interface (nothing can hold the address there).
 */
import { runMain } from "./handler-input.ts";
import {
  addAddress,
  announce,
  deleteAddress,
  findAddress,
  findProgram,
  VipInterfaceMissingError,
} from "./vip-iproute.ts";
import { cidr, parseVipSettings, USAGE, type VipSettings, VipSettingsError } from "./vip-settings.ts";

const NAME = "vip";

/** ` (service db, epoch 7)` from CONCLAVE_SERVICE and CONCLAVE_EPOCH, or nothing. */
function context(env: NodeJS.ProcessEnv): string {
  const parts = [
    env.CONCLAVE_SERVICE ? `service ${env.CONCLAVE_SERVICE}` : "",
    env.CONCLAVE_EPOCH ? `epoch ${env.CONCLAVE_EPOCH}` : "",
  ].filter(Boolean);
  return parts.length ? ` (${parts.join(", ")})` : "";
}

/** `vip up`: returns the line to print. */
async function up(s: VipSettings, env: NodeJS.ProcessEnv): Promise<string> {
  const ip = findProgram(s.ip, "ip", env.PATH);
  const announcing = s.address.ip.type === "A" && s.arpCount > 0;
  const arping = announcing ? findProgram(s.arping, "arping", env.PATH) : null;
  const present = await findAddress(ip, s.interface, s.address);
  const exact = present.some((a) => a.prefix === s.address.prefix);
  for (const other of present.filter((a) => a.prefix !== s.address.prefix)) {
    await deleteAddress(ip, s.interface, other);
  }
  if (!exact) await addAddress(ip, s.interface, s.address);
  if (arping) await announce(arping, s.interface, s.address, s.arpCount);
  const what = exact
    ? `${cidr(s.address)} already on ${s.interface}`
    : present.length
      ? `replaced ${present.map((a) => `${a.address}/${a.prefix}`).join(", ")} with ${cidr(s.address)} on ${s.interface}`
      : `added ${cidr(s.address)} to ${s.interface}`;
  const told = arping
    ? `; announced with ${s.arpCount} gratuitous ARP`
    : s.address.ip.type === "AAAA"
      ? "; IPv6: no announcement sent"
      : "; not announced (--arp-count 0)";
  return `up: ${what}${told}`;
}

/** `vip down`: returns the line to print. */
async function down(s: VipSettings, env: NodeJS.ProcessEnv): Promise<string> {
  const ip = findProgram(s.ip, "ip", env.PATH);
  let present;
  try {
    present = await findAddress(ip, s.interface, s.address);
  } catch (e) {
    if (!(e instanceof VipInterfaceMissingError)) throw e;
    return `down: there is no interface ${s.interface}, so ${s.address.ip.text} is not on it`;
  }
  for (const a of present) await deleteAddress(ip, s.interface, a);
  return present.length
    ? `down: removed ${present.map((a) => `${a.address}/${a.prefix}`).join(", ")} from ${s.interface}`
    : `down: ${s.address.ip.text} was not on ${s.interface}`;
}

/** Run the script with the process's arguments and environment; returns the exit code. */
export async function main(): Promise<number> {
  try {
    const settings = parseVipSettings(process.argv.slice(2), process.env, process.argv[1] ?? "");
    if (settings === "help") {
      process.stdout.write(USAGE);
      return 0;
    }
    const line = await (settings.action === "up" ? up : down)(settings, process.env);
    process.stdout.write(`${NAME}: ${line}${context(process.env)}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof VipSettingsError)) throw e; // VipCommandError and the unexpected: exit 1
    process.stderr.write(`${NAME}: ${e.message}\n${e.usage ? `\n${USAGE}` : ""}`);
    return 2;
  }
}

runMain(NAME, main);
