/**
 * Which `Host` headers the status port answers, against DNS rebinding: a web page on an
 * attacker's name that later resolves to this node's address would otherwise let the
 * visitor's browser read `/api/status` for that page. The browser still sends the attacker's
 * name as `Host`, so the port answers only to names that are this node's:
 *
 * - the host of its `http:` address itself (an IP or a name);
 * - listening on loopback: also `localhost`, `127.0.0.1` and `::1` (so an `ssh -L` tunnel's
 *   `http://localhost:PORT/` works);
 * - listening on the any-address (`0.0.0.0`, `::`): also every IP address of this host's
 *   interfaces, and `localhost`;
 * - listening anywhere but loopback: also this host's name (`os.hostname()`) and its first
 *   label, so Prometheus may scrape `web1:7480`.
 *
 * The port is not compared: a tunnel or a port mapping may move it, and a rebinding attack
 * cannot be told by it. A request without `Host` (HTTP/1.0, never a browser) is answered.
 */
import { isWildcardHost } from "../config/host-port.ts";
import { quoteName } from "../contract/names.ts";

/** What {@link hostProblem} needs to know about this node. */
export interface StatusHostContext {
  /** The host of the `http:` address, as `splitHostPort` returns it (IPv6 without brackets). */
  readonly listenHost: string;
  /** This host's interface addresses (IPv6 without brackets); asked only on the any-address. */
  readonly localAddresses: () => readonly string[];
  /** This host's name (`os.hostname()`). */
  readonly hostname: string;
}

/** The names that reach a loopback listener. */
const LOOPBACK_NAMES = ["localhost", "127.0.0.1", "::1"];

/** Whether `host` (as {@link splitHostPort} returns it) is a loopback address or `localhost`. */
export function isLoopbackHost(host: string): boolean {
  return host === "localhost" || host === "::1" || host.startsWith("127.");
}

/**
 * The host part of a `Host` header, lower case, without port, brackets or a final dot; null
 * when the header is not `HOST[:PORT]` at all.
 */
export function hostPart(header: string): string | null {
  const h = header.trim().toLowerCase();
  const m = /^\[([0-9a-f:.]+)\](?::\d{1,5})?$/.exec(h) ?? /^([^:[\]\s/]+)(?::\d{1,5})?$/.exec(h);
  return m ? m[1]!.replace(/\.$/, "") : null;
}

/** The host names and addresses the port answers to (lower case), see the module's comment. */
export function allowedHosts(c: StatusHostContext): Set<string> {
  const listen = c.listenHost.toLowerCase();
  const allowed = new Set([listen]);
  if (isLoopbackHost(listen)) {
    for (const n of LOOPBACK_NAMES) allowed.add(n);
    return allowed;
  }
  if (isWildcardHost(listen)) {
    allowed.add("localhost");
    for (const a of c.localAddresses()) allowed.add(a.toLowerCase());
  }
  const name = c.hostname.toLowerCase().replace(/\.$/, "");
  if (name !== "") {
    allowed.add(name);
    allowed.add(name.split(".")[0]!);
  }
  return allowed;
}

/**
 * Why a request with this `Host` header is refused (the 421's plain text), or null when the
 * port answers it.
 */
export function hostProblem(header: string | undefined, c: StatusHostContext): string | null {
  if (header === undefined) return null;
  const host = hostPart(header);
  const allowed = allowedHosts(c);
  if (host !== null && allowed.has(host)) return null;
  const names = [...allowed].filter((h) => !isWildcardHost(h)).slice(0, 8);
  return (
    `misdirected request: Host ${quoteName(header)} is not a name or address of this status port; ` +
    `use one of ${names.join(", ")} (a guard against DNS rebinding: docs/status-and-metrics.md)\n`
  );
}
