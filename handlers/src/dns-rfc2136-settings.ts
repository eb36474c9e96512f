/**
 * The settings of the DNS handler, from flags and environment variables (a flag wins), and
 * its usage text. Everything is validated here, before any input is read or packet sent, so
 * a bad setting is always exit 2 with one line naming it.
 */
import { isIP } from "node:net";
import { DurationError, parseDuration } from "../../src/config/duration.ts";
import { canonicalName, isValidName } from "./dns-wire.ts";
import { HandlerSettingsError, parseHandlerSettings } from "./handler-settings.ts";

/** The label under the managed name whose TXT record holds the fence. */
export const FENCE_LABEL = "_conclave-fence";

/** The usage text printed by `--help` and after a usage error. */
export const USAGE = `Usage: dns-rfc2136 --server HOST --zone ZONE --name NAME --key-file FILE [options]

A Conclave handler that keeps the A and AAAA records of NAME listing the members that are
up (and, with --check, whose check is passing), by sending one TSIG-signed RFC 2136 update
to the zone's primary server. It reads the CONCLAVE_* environment and the member view on
standard input. IPv4 member addresses give A records, IPv6 ones AAAA; a member whose
address is a host name is skipped with a warning.

Events (the handler's on: list). It runs only when one of these is committed, so a
change whose event is missing from the list reaches DNS only at some later run:
  member-joined, member-up, member-down, member-left   always
  check-failing, check-passing                         also needed with --check NAME: a
                                                       member whose check starts or stops
                                                       passing
  member-drained, member-undrained                     also needed for drain: conclave
                                                       drain / undrain take a member out
                                                       of DNS and put it back

Settings (a flag wins over its environment variable):
  --server HOST         DNS_SERVER        the zone's primary server (IP address or host name)
  --port N              DNS_PORT          its port (default 53)
  --zone ZONE           DNS_ZONE          the zone to update, e.g. example.com
  --name NAME           DNS_NAME          the name to manage: www (relative to the zone),
                                          www.example.com, or @ for the zone apex
  --key-file FILE       DNS_KEY_FILE      the TSIG key, in BIND's format as tsig-keygen
                                          writes it (hmac-sha256; also hmac-md5, -sha1,
                                          -sha224, -sha384, -sha512)
  --ttl SECONDS         DNS_TTL           TTL of the records written (default 30)
  --check NAME          DNS_CHECK         list a member only while this check is passing
                                          (subscribe to check-failing and check-passing)
  --min-records N       DNS_MIN_RECORDS   never leave NAME with fewer than N records
                                          (default 1): when fewer members are eligible,
                                          keep some of the current records, the most
                                          recently up first, and say so on stderr
  --timeout DURATION    DNS_TIMEOUT       how long to wait for each answer (default 3s)
  -h, --help                              print this text

Fencing: the TXT record ${FENCE_LABEL}.NAME holds the CONCLAVE_FENCE (TERM:INDEX) of the
last run that wrote NAME. The update requires that TXT record and the A and AAAA records to
be as they were just read, and replaces the TXT with this run's fence, all in one
transaction. A run whose fence is older than the stored one changes nothing and exits 0;
if another writer changed NAME between the read and the update, it reads again and
retries (up to 5 times).

Exit status: 0 done (or stale fence: nothing to do); 1 a failure worth retrying (server
unreachable or not answering, REFUSED, NOTAUTH, a TSIG error such as BADSIG, bad handler
input); 2 bad usage or a bad setting.
`;

/** A bad flag, environment variable or setting; `usage` says whether to print the usage text too. */
export class SettingsError extends HandlerSettingsError {
  override readonly name = "SettingsError";
}

/** The validated settings. */
export interface DnsSettings {
  readonly server: string;
  readonly port: number;
  /** Canonical (lowercase, final dot). */
  readonly zone: string;
  /** The managed name, fully qualified, canonical. */
  readonly name: string;
  /** `_conclave-fence.` + {@link name}. */
  readonly fenceName: string;
  readonly keyFile: string;
  readonly ttl: number;
  readonly check: string | null;
  readonly minRecords: number;
  readonly timeoutMs: number;
}

/** Each setting: its flag and its environment variable. */
const SETTINGS = {
  server: "DNS_SERVER",
  port: "DNS_PORT",
  zone: "DNS_ZONE",
  name: "DNS_NAME",
  "key-file": "DNS_KEY_FILE",
  ttl: "DNS_TTL",
  check: "DNS_CHECK",
  "min-records": "DNS_MIN_RECORDS",
  timeout: "DNS_TIMEOUT",
} as const;

type Setting = keyof typeof SETTINGS;

const label = (s: Setting) => `--${s} (${SETTINGS[s]})`;

/** A whole number in [min, max], or a {@link SettingsError} naming the setting. */
function wholeNumber(s: Setting, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) {
    throw new SettingsError(
      `${label(s)} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`,
    );
  }
  return Number(text);
}

/**
 * The managed name, fully qualified: `@` is the apex; a name ending in a dot, or equal to or
 * ending in the zone, is taken as it is; any other is relative to the zone.
 */
export function qualifyName(name: string, zone: string): string {
  if (name === "@") return canonicalName(zone);
  const n = canonicalName(name);
  const z = canonicalName(zone);
  if (name.endsWith(".") || n === z || n.endsWith(`.${z}`)) return n;
  return z === "." ? n : `${n}${z}`;
}

/**
 * Parse `argv` (without node and the script) and `env`. Returns `"help"` for `--help`.
 * @throws SettingsError for an unknown flag, a missing or malformed setting.
 */
export function parseSettings(argv: readonly string[], env: NodeJS.ProcessEnv): DnsSettings | "help" {
  const parsed = parseHandlerSettings({
    argv,
    env,
    settings: SETTINGS,
    error: (message, usage) => new SettingsError(message, usage),
  });
  if (parsed === "help") return "help";
  const { get, need } = parsed;

  const server = need("server");
  if (!isIP(server) && !isValidName(server)) {
    throw new SettingsError(
      `${label("server")} is neither an IP address nor a host name: ${JSON.stringify(server)}`,
    );
  }
  const zoneText = need("zone");
  if (!isValidName(zoneText) || canonicalName(zoneText) === ".") {
    throw new SettingsError(`${label("zone")} is not a valid zone name: ${JSON.stringify(zoneText)}`);
  }
  const zone = canonicalName(zoneText);
  const nameText = need("name");
  const name = nameText === "@" || isValidName(nameText) ? qualifyName(nameText, zone) : "";
  if (!name || !isValidName(`${FENCE_LABEL}.${name}`)) {
    throw new SettingsError(`${label("name")} is not a valid domain name: ${JSON.stringify(nameText)}`);
  }
  if (name !== zone && !name.endsWith(`.${zone}`)) {
    throw new SettingsError(`${label("name")} ${name} is not inside ${label("zone")} ${zone}`);
  }
  const check = get("check") ?? null;
  let timeoutMs: number;
  try {
    timeoutMs = parseDuration(get("timeout") ?? "3s");
  } catch (e) {
    throw new SettingsError(`${label("timeout")}: ${(e as DurationError).message}`);
  }
  if (timeoutMs < 100) throw new SettingsError(`${label("timeout")} must be at least 100ms`);
  return {
    server,
    port: wholeNumber("port", get("port") ?? "53", 1, 65535),
    zone,
    name,
    fenceName: `${FENCE_LABEL}.${name}`,
    keyFile: need("key-file"),
    ttl: wholeNumber("ttl", get("ttl") ?? "30", 0, 2_147_483_647),
    check,
    minRecords: wholeNumber("min-records", get("min-records") ?? "1", 0, 1000),
    timeoutMs,
  };
}
