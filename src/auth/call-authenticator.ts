/**
 * Authentication: from a call's credentials to an {@link Identity}, in the node's mode.
 *
 * - `shared` (legacy, `cluster.token_file` alone): the call must present the one cluster
 *   token; its holder is {@link SHARED_IDENTITY} (every role, any name). Certificates are
 *   not read, exactly as before roles existed.
 * - `keys` (`cluster.auth`): a verified client certificate with Conclave SANs names the
 *   caller and wins over any token; otherwise the call's role token is checked with the keys.
 *
 * Invariant: every comparison with a secret is constant-time (digests for the shared token,
 * equal-length MACs for role tokens, role-token.ts).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { PeerCertificate } from "node:tls";
import type * as grpc from "@grpc/grpc-js";
import { presentedToken } from "../rpc/grpc-auth.ts";
import type { AuthKeys } from "./auth-keys.ts";
import { type Identity, SHARED_IDENTITY } from "./auth-role.ts";
import { CertIdentityError, identityFromCertificate } from "./cert-identity.ts";
import { verifyRoleToken } from "./role-token.ts";

/** How a server authenticates calls. */
export type ServerAuth =
  | { readonly kind: "shared"; readonly token: string }
  | {
      readonly kind: "keys";
      readonly keys: AuthKeys;
      /**
       * The legacy shared token, still accepted as every role while a cluster upgrades
       * (docs/security.md#upgrading: an elector with both `cluster.auth` and the shared
       * `token_file`). Absent once the upgrade is done.
       */
      readonly sharedToken?: string;
    };

/** The outcome of authenticating one call: who, or why not. */
export type AuthOutcome = { readonly identity: Identity } | { readonly problem: string };

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/**
 * Who presents `metadata` (and, with TLS, the verified client certificate `cert`) under `auth`.
 * The problem text of a refusal never includes a credential.
 */
export function authenticateCall(
  auth: ServerAuth,
  metadata: grpc.Metadata,
  cert: PeerCertificate | undefined,
): AuthOutcome {
  const token = presentedToken(metadata);
  if (auth.kind === "shared") {
    if (isSharedToken(token, auth.token)) return { identity: SHARED_IDENTITY };
    return { problem: "missing or wrong cluster token" };
  }
  try {
    const fromCert = identityFromCertificate(cert);
    if (fromCert !== null) return { identity: fromCert };
  } catch (e) {
    if (e instanceof CertIdentityError) return { problem: e.message };
    throw e;
  }
  const identity = token === null ? null : verifyRoleToken(auth.keys, token);
  if (identity) return { identity };
  if (auth.sharedToken !== undefined && isSharedToken(token, auth.sharedToken)) {
    return { identity: SHARED_IDENTITY };
  }
  return { problem: "missing or wrong cluster token" };
}

/** Whether `presented` is the shared token `expected`, compared in constant time. */
function isSharedToken(presented: string | null, expected: string): boolean {
  return presented !== null && expected.length > 0 && timingSafeEqual(digest(presented), digest(expected));
}
