/**
 * The `host:port` rule: what a node address looks like (`10.0.0.1:7400`, `web1.internal:7400`,
 * `[fd00::1]:7400`), for `conclave.yaml`'s addresses, a tcp check's `address` and the CLI's
 * `--addr`. This file is the one place the rule lives; everything that reads an address from
 * an operator goes through {@link splitHostPort}, so they all accept and refuse the same text
 * with the same reason.
 */
import { isIPv4, isIPv6 } from "node:net";
import { quote } from "./config-error.ts";

/** A parsed `host:port`; an IPv6 host is given without its brackets. */
export interface HostPort {
  /** A host name, an IPv4 address, or an IPv6 address (without brackets). */
  readonly host: string;
  /** 1-65535. */
  readonly port: number;
}

/** Text that is not `host:port`; the message says what is wrong and how to write it. */
export class HostPortError extends Error {
  override readonly name = "HostPortError";
}

/** A DNS-style host name: dot-separated labels of letters, digits, `_` and `-`. */
const HOSTNAME = /^[A-Za-z0-9_]([A-Za-z0-9_-]*)(\.[A-Za-z0-9_]([A-Za-z0-9_-]*))*\.?$/;

/**
 * Split `host:port` (`10.0.0.1:7400`, `web1.internal:7400`, `[fd00::1]:7400`) into host
 * and port. The port must be 1-65535 (0 too with `allowPortZero`: a listen address that lets
 * the system pick a free port); an IPv6 address must be in brackets (otherwise its last group
 * could not be told from the port).
 * @throws HostPortError saying what is wrong with the text
 */
export function splitHostPort(text: string, options: { readonly allowPortZero?: boolean } = {}): HostPort {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    if (end < 0 || text[end + 1] !== ":") {
      throw new HostPortError(
        `${quote(text)} is not host:port; write an IPv6 address as [ADDRESS]:PORT, e.g. [fd00::1]:7400`,
      );
    }
    host = text.slice(1, end);
    portText = text.slice(end + 2);
    if (!isIPv6(host)) throw new HostPortError(`${quote(host)} in brackets is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0) throw new HostPortError(`${quote(text)} has no port; write host:port, e.g. 10.0.0.1:7400`);
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host === "") {
      throw new HostPortError(`${quote(text)} has no host; write host:port, e.g. 10.0.0.1:7400`);
    }
    if (host.includes(":")) {
      throw new HostPortError(
        `${quote(text)}: write an IPv6 address in brackets, e.g. [${host}]:${portText}`,
      );
    }
    // All digits and dots must be a dotted quad: `300.1.1.1` is a mistake, not a host name.
    const looksNumeric = /^[\d.]+$/.test(host);
    if (looksNumeric ? !isIPv4(host) : !HOSTNAME.test(host)) {
      throw new HostPortError(`${quote(host)} is not a valid host name or IP address`);
    }
  }
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
  if (!(port >= (options.allowPortZero ? 0 : 1) && port <= 65535)) {
    throw new HostPortError(`port ${quote(portText)} must be a number from 1 to 65535`);
  }
  return { host, port };
}

/**
 * Whether a host (as {@link splitHostPort} returns it) is an any-address: 0.0.0.0 or ::
 * (in any spelling). Such a host is fine to listen on but never an address to reach a node at.
 */
export function isWildcardHost(host: string): boolean {
  return host === "0.0.0.0" || (isIPv6(host) && /^[0:]+$/.test(host));
}
