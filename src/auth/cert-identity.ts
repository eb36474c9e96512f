/**
 * Identities from client certificates: a certificate names its holder with URI SANs
 * `conclave://ROLE/NAME`, one per role, all with the same NAME (deploy/tls-bootstrap.sh
 * issues them). The TLS handshake has already verified the certificate against the cluster
 * CA (grpc-credentials.ts) before any of this runs.
 *
 * A certificate without any `conclave://` SAN names no one (an older certificate): the
 * caller falls back to the token. One with a malformed `conclave://` SAN, or two names, is
 * refused outright ({@link CertIdentityError}), never read as something else.
 */
import type { PeerCertificate } from "node:tls";
import { nameProblem } from "../contract/names.ts";
import { type AuthRole, type Identity, isAuthRole } from "./auth-role.ts";

/** The URI scheme of Conclave SANs. */
export const CONCLAVE_URI_PREFIX = "conclave://";

/** A certificate whose Conclave SANs cannot be read as one identity. */
export class CertIdentityError extends Error {
  override readonly name = "CertIdentityError";
}

/** The SAN URI of `name` in `role`, as tls-bootstrap.sh writes it. */
export function conclaveUri(role: AuthRole, name: string): string {
  return `${CONCLAVE_URI_PREFIX}${role}/${name}`;
}

/**
 * The URI entries of a `subjectaltname` string as Node formats it (`DNS:a, URI:x, IP
 * Address:1.2.3.4`; an entry with special characters is JSON-quoted: `URI:"x,y"`).
 */
export function sanUris(subjectAltName: string): string[] {
  const out: string[] = [];
  let i = 0;
  const s = subjectAltName;
  while (i < s.length) {
    const colon = s.indexOf(":", i);
    if (colon < 0) break;
    const kind = s.slice(i, colon);
    let j = colon + 1;
    let value: string;
    if (s[j] === '"') {
      // A JSON string: find its closing quote, skipping escapes.
      let k = j + 1;
      while (k < s.length && s[k] !== '"') k += s[k] === "\\" ? 2 : 1;
      try {
        value = JSON.parse(s.slice(j, k + 1)) as string;
      } catch {
        throw new CertIdentityError("the certificate's subjectAltName cannot be parsed");
      }
      j = k + 1;
    } else {
      const comma = s.indexOf(", ", j);
      const end = comma < 0 ? s.length : comma;
      value = s.slice(j, end);
      j = end;
    }
    if (kind === "URI") out.push(value);
    i = s.startsWith(", ", j) ? j + 2 : j + 1;
  }
  return out;
}

/**
 * The identity the Conclave URIs among `uris` name, or null when there is none.
 * @throws CertIdentityError for a malformed Conclave URI or more than one name
 */
export function identityFromUris(uris: readonly string[]): Identity | null {
  const roles: AuthRole[] = [];
  let name: string | null = null;
  for (const uri of uris) {
    if (!uri.startsWith(CONCLAVE_URI_PREFIX)) continue;
    const rest = uri.slice(CONCLAVE_URI_PREFIX.length);
    const slash = rest.indexOf("/");
    const role = slash < 0 ? rest : rest.slice(0, slash);
    const n = slash < 0 ? "" : rest.slice(slash + 1);
    if (!isAuthRole(role)) throw new CertIdentityError(`certificate SAN ${uri}: unknown role`);
    if (nameProblem(role, n) !== null)
      throw new CertIdentityError(`certificate SAN ${uri}: not a valid name`);
    if (name !== null && name !== n) {
      throw new CertIdentityError(`the certificate names two identities (${name} and ${n})`);
    }
    name = n;
    if (!roles.includes(role)) roles.push(role);
  }
  return name === null ? null : { name, roles, shared: false };
}

/**
 * The identity a verified client certificate names, or null when it carries no Conclave SAN
 * (or there is no certificate).
 * @throws CertIdentityError (see {@link identityFromUris})
 */
export function identityFromCertificate(cert: PeerCertificate | undefined | null): Identity | null {
  const san = cert?.subjectaltname;
  if (typeof san !== "string" || san === "") return null;
  return identityFromUris(sanUris(san));
}
