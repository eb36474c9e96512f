/**
 * The settings of the `vip` service script, from its arguments and environment variables (a
 * flag wins), and its usage text. Everything here is checked before any `ip` command runs,
 * so a bad setting is exit 2 with one line naming it and nothing on the machine changed.
 */
import { basename } from "node:path";
import { HandlerSettingsError, parseHandlerSettings } from "./handler-settings.ts";
import { type IpAddress, parseIp } from "./ip-bytes.ts";

/** The default number of gratuitous ARP packets sent by `up` (one second apart). */
export const DEFAULT_ARP_COUNT = 2;

/** The usage text printed by `--help` and after a usage error. */
export const USAGE = `Usage: vip up|down --address ADDR[/PREFIX] --interface IF [options]

Adds (up) or removes (down) a virtual IP address on a network interface of THIS machine,
with iproute2's "ip addr add/del", and after "up" announces it with gratuitous ARP
("arping -U -c 2 -I IF ADDR", iputils-arping), so neighbours send its traffic here at once.

It is a service script, run on the member that holds a service's master role: make it the
service's promote and demote scripts, e.g. services_dir/db/promote:

  #!/bin/sh
  exec /opt/conclave/handlers/vip up --address 10.0.0.100/24 --interface eth0

and services_dir/db/demote the same with "down". (A symlink named promote or demote
pointing to this program also works: with no up/down argument the name decides, and the
settings come from VIP_ADDRESS and VIP_INTERFACE.) The member agent runs promote only
under a master lease and demote when the lease is lost, so the address is on at most one
member at a time.

It is not a leader-side handler, and refuses to run as one (CONCLAVE_HANDLER set): a
handler for master-promoted runs on the elector that leads the cluster, not on the
new master, so it would move the address to the wrong machine, and an old master that
cannot be reached would keep its copy.

Both directions are idempotent: "up" with the address already present exits 0 (and
announces it again); "down" with the address absent (or the interface gone) exits 0.
"up" with the address present under another prefix length replaces it. "down" removes
the address whatever its prefix length.

Settings (a flag wins over its environment variable):
  --address ADDR[/PREFIX]  VIP_ADDRESS     the virtual IP; IPv4 or IPv6; without a prefix
                                           length it is /32 (IPv4) or /128 (IPv6)
  --interface IF           VIP_INTERFACE   the interface to put it on, e.g. eth0
  --arp-count N            VIP_ARP_COUNT   gratuitous ARP packets after "up" (default ${DEFAULT_ARP_COUNT});
                                           0: no announcement
  --ip PATH                VIP_IP          the ip program (default: ip, from PATH)
  --arping PATH            VIP_ARPING      the arping program (default: arping, from PATH)
  -h, --help                               print this text

IPv6: no announcement is sent (iputils arping is IPv4 only); the kernel runs duplicate
address detection on the new address and, with net.ipv6.conf.IF.ndisc_notify=1, sends an
unsolicited neighbour advertisement itself.
IPv4: the first address of a subnet on an interface is its primary; deleting a primary
also deletes the secondaries of that subnet unless net.ipv4.conf.IF.promote_secondaries=1.
A /32 virtual IP is alone in its subnet and avoids this.
Network namespaces: the commands act on the namespace vip runs in; to act on another one,
run it there ("ip netns exec NS vip up ...").

Runs as root (or with CAP_NET_ADMIN and, for arping, CAP_NET_RAW).
CONCLAVE_SERVICE and CONCLAVE_EPOCH, when set, are only shown in the output.

Exit status: 0 done (or nothing to do); 1 an ip or arping command failed (its error is
printed); 2 bad usage or a bad setting: a malformed address, a missing interface (for
"up"), ip or arping not found, or run as a leader-side handler.
`;

/** A bad argument, environment variable or setting; exit 2. `usage`: print the usage text too. */
export class VipSettingsError extends HandlerSettingsError {
  override readonly name: string = "VipSettingsError";
}

/** The virtual IP: an address and its prefix length. */
export interface VipAddress {
  /** The address, canonical (RFC 5952 for IPv6); `ip.type` is A for IPv4, AAAA for IPv6. */
  readonly ip: IpAddress;
  /** The prefix length: 0–32 for IPv4, 0–128 for IPv6. */
  readonly prefix: number;
}

/** `ADDR/PREFIX`, as `ip addr` takes it. */
export function cidr(a: VipAddress): string {
  return `${a.ip.text}/${a.prefix}`;
}

/** The validated settings. */
export interface VipSettings {
  readonly action: "up" | "down";
  readonly address: VipAddress;
  readonly interface: string;
  readonly arpCount: number;
  /** The `ip` program as given (a name looked up in PATH, or a path). */
  readonly ip: string;
  /** The `arping` program as given. */
  readonly arping: string;
}

/** Each setting's flag and environment variable. */
export const VIP_SETTINGS = {
  address: "VIP_ADDRESS",
  interface: "VIP_INTERFACE",
  "arp-count": "VIP_ARP_COUNT",
  ip: "VIP_IP",
  arping: "VIP_ARPING",
} as const;

/** One of {@link VIP_SETTINGS}' flags. */
export type VipSetting = keyof typeof VIP_SETTINGS;

/** `--flag (VARIABLE)`, how messages name a setting. */
export const settingLabel = (s: VipSetting): string => `--${s} (${VIP_SETTINGS[s]})`;

/**
 * Parse `ADDR[/PREFIX]`.
 * @throws VipSettingsError naming {@link settingLabel}("address") for anything that is not an
 *   IPv4 or IPv6 unicast address with a prefix length in range.
 */
export function parseVipAddress(text: string): VipAddress {
  const bad = (why: string) =>
    new VipSettingsError(`${settingLabel("address")} ${why}, got ${JSON.stringify(text)}`);
  const m = /^([^/]+)(?:\/(\d{1,3}))?$/.exec(text.trim());
  if (!m) throw bad("must be ADDR or ADDR/PREFIX, e.g. 10.0.0.100/24");
  const ip = parseIp(m[1]!);
  if (!ip) throw bad("is not an IPv4 or IPv6 address");
  const max = ip.type === "A" ? 32 : 128;
  const prefix = m[2] === undefined ? max : Number(m[2]);
  if (prefix > max) throw bad(`has a prefix length above ${max}`);
  if (ip.bytes.every((b) => b === 0)) throw bad("is the unspecified address");
  const first = ip.bytes[0]!;
  if (ip.type === "A" ? first >= 224 && first <= 239 : first === 0xff) throw bad("is a multicast address");
  if (ip.type === "A" && ip.bytes.every((b) => b === 255)) throw bad("is the broadcast address");
  return { ip, prefix };
}

/**
 * Whether `name` can be a Linux interface name: 1 to 15 bytes (IFNAMSIZ − 1), no white
 * space, `/` or `:`, and not `.` or `..`.
 */
export function isInterfaceName(name: string): boolean {
  return /^[^\s/:]{1,15}$/.test(name) && Buffer.byteLength(name) <= 15 && name !== "." && name !== "..";
}

/**
 * The action given as the first argument, or, with none, the one the program's name implies
 * (`promote` → up, `demote` → down: vip run through a symlink in a service folder).
 */
function actionOf(positionals: readonly string[], invokedAs: string): "up" | "down" {
  if (positionals.length > 1) {
    throw new VipSettingsError(`one action, up or down, expected; got ${positionals.join(" ")}`, true);
  }
  const given = positionals[0];
  if (given === "up" || given === "down") return given;
  if (given !== undefined) {
    throw new VipSettingsError(`the action must be up or down, got ${JSON.stringify(given)}`, true);
  }
  const name = basename(invokedAs);
  if (name === "promote") return "up";
  if (name === "demote") return "down";
  throw new VipSettingsError("the action, up or down, is missing", true);
}

/**
 * Parse `argv` (without node and the script) and `env`. `invokedAs` is the path the program
 * was started as (`process.argv[1]`), which decides the action when none is given.
 * Returns `"help"` for `--help`.
 * @throws VipSettingsError for an unknown flag, a missing action or setting, a malformed
 *   address or interface name, or a run as a leader-side handler (CONCLAVE_HANDLER set).
 */
export function parseVipSettings(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  invokedAs: string,
): VipSettings | "help" {
  const parsed = parseHandlerSettings({
    argv,
    env,
    settings: VIP_SETTINGS,
    positionals: true,
    error: (message, usage) => new VipSettingsError(message, usage),
  });
  if (parsed === "help") return "help";
  const { get, need, positionals } = parsed;
  if (env.CONCLAVE_HANDLER) {
    throw new VipSettingsError(
      `run as the leader-side handler ${JSON.stringify(env.CONCLAVE_HANDLER)}: vip must run on the master ` +
        "itself, as a service's promote/demote script (see vip --help)",
    );
  }
  const action = actionOf(positionals, invokedAs);

  const address = parseVipAddress(need("address"));
  const ifname = need("interface");
  if (!isInterfaceName(ifname)) {
    throw new VipSettingsError(
      `${settingLabel("interface")} is not an interface name (1 to 15 characters, no white space, / or :), got ${JSON.stringify(ifname)}`,
    );
  }
  const countText = get("arp-count") ?? String(DEFAULT_ARP_COUNT);
  if (!/^\d{1,3}$/.test(countText) || Number(countText) > 100) {
    throw new VipSettingsError(
      `${settingLabel("arp-count")} must be a whole number from 0 to 100, got ${JSON.stringify(countText)}`,
    );
  }
  return {
    action,
    address,
    interface: ifname,
    arpCount: Number(countText),
    ip: get("ip") ?? "ip",
    arping: get("arping") ?? "arping",
  };
}
