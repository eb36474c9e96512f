/**
 * gRPC transport credentials: mutual TLS against the cluster CA when `tls` is configured,
 * plaintext otherwise (the cluster token still authenticates every call).
 *
 * With mutual TLS both sides present a certificate issued by the cluster CA and check the
 * other's against that CA only (never the system roots): a peer with no certificate or one
 * from another CA fails the handshake, before any gRPC call exists.
 */
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import * as grpc from "@grpc/grpc-js";

/** Paths of the PEM files of `cluster.tls` in the config. */
export interface TlsFiles {
  /** The cluster CA certificate. */
  readonly ca: string;
  /** This node's certificate (chain), issued by the cluster CA. */
  readonly cert: string;
  /** This node's private key. */
  readonly key: string;
}

/** The same files, read. */
export interface TlsMaterial {
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Either paths or already-read PEM contents. */
export type TlsSource = TlsFiles | TlsMaterial;

/** A TLS file could not be read; names the file and the setting. */
export class TlsConfigError extends Error {
  override readonly name = "TlsConfigError";
}

/**
 * Read the PEM files (once, at startup: credentials are rebuilt per peer channel).
 * @throws TlsConfigError naming the unreadable file
 */
export function loadTlsMaterial(tls: TlsSource): TlsMaterial {
  const read = (what: "ca" | "cert" | "key"): Buffer => {
    const v = tls[what];
    if (Buffer.isBuffer(v)) return v;
    try {
      return readFileSync(v);
    } catch (err) {
      throw new TlsConfigError(`cannot read tls.${what} file ${v}: ${(err as Error).message}`);
    }
  };
  return { ca: read("ca"), cert: read("cert"), key: read("key") };
}

/**
 * Server credentials: mutual TLS requiring a client certificate from the cluster CA, or
 * insecure when `tls` is undefined.
 */
export function createServerCredentials(tls?: TlsSource): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const m = loadTlsMaterial(tls);
  return grpc.ServerCredentials.createSsl(m.ca, [{ cert_chain: m.cert, private_key: m.key }], true);
}

/** Options of {@link createClientCredentials}. */
export interface ClientCredentialsOptions {
  /**
   * The node name of the server being called. Its certificate is accepted when it names
   * either the dialled host (the usual TLS rule, IP or DNS SAN) or this node name (as a
   * DNS SAN), so certificates may carry node names instead of addresses.
   */
  readonly peerName?: string;
  /**
   * The `host:port` dialled; needed with `peerName` (see {@link peerChannelOptions}) and
   * when the host is an IP address (see {@link serverNameOptions}).
   */
  readonly address?: string;
}

/** The host part of `host:port` or `[v6]:port`, without brackets. */
function hostOf(address: string): string {
  const i = address.lastIndexOf(":");
  const host = i > 0 ? address.slice(0, i) : address;
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/**
 * Client channel credentials: TLS trusting only the cluster CA and presenting this node's
 * certificate, or insecure when `tls` is undefined.
 */
export function createClientCredentials(
  tls?: TlsSource,
  options: ClientCredentialsOptions = {},
): grpc.ChannelCredentials {
  if (!tls) return grpc.credentials.createInsecure();
  const m = loadTlsMaterial(tls);
  const { peerName, address } = options;
  const verifyOptions: grpc.VerifyOptions = {};
  const dialled = address ? hostOf(address) : undefined;
  if (peerName) {
    // `host` is the TLS server name: the peer name under peerChannelOptions, so the dialled
    // host is checked from the closure.
    verifyOptions.checkServerIdentity = (host: string, cert: PeerCertificate) => {
      const first = checkServerIdentity(dialled ?? host, cert);
      if (!first) return undefined;
      return checkServerIdentity(peerName, cert) ? first : undefined;
    };
  } else if (dialled && isIP(dialled)) {
    // `host` is the placeholder of serverNameOptions, not an identity: the certificate must
    // name the dialled address (an IP SAN).
    verifyOptions.checkServerIdentity = (_host: string, cert: PeerCertificate) =>
      checkServerIdentity(dialled, cert);
  }
  return grpc.credentials.createSsl(m.ca, m.key, m.cert, verifyOptions);
}

/**
 * The TLS server name a channel to an IP address sends. RFC 6066 allows only host names in
 * SNI, so a client dialling an IP should send none; grpc-js always sends one (the dialled
 * host unless overridden), so it sends this name, under a reserved top-level domain (RFC
 * 2606) that names nothing. Conclave's servers ignore SNI, and identity is checked against
 * the dialled IP, not this name.
 */
export const IP_TARGET_SERVER_NAME = "ip-address.invalid";

/**
 * Extra channel options for a client channel to `address`, beside the credentials
 * `createClientCredentials(tls, { address })` makes for it: with TLS and an IP address as the
 * host, send {@link IP_TARGET_SERVER_NAME} as the TLS server name. Without it grpc-js sends
 * the IP address as SNI and Node warns (DEP0123). Empty for plaintext or a host name.
 */
export function serverNameOptions(address: string, tls?: TlsSource): grpc.ChannelOptions {
  if (!tls || !isIP(hostOf(address))) return {};
  return { "grpc.ssl_target_name_override": IP_TARGET_SERVER_NAME };
}

/**
 * Extra channel options for a TLS channel to node `peerName`: send the node name as the
 * TLS server name. Without it grpc-js would send an IP address as SNI, which RFC 6066
 * forbids and Node warns about (DEP0123); identity is still checked against both the
 * dialled host and the name (see {@link createClientCredentials}).
 */
export function peerChannelOptions(peerName: string): grpc.ChannelOptions {
  return { "grpc.ssl_target_name_override": peerName };
}
