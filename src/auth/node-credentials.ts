/**
 * A node's own credentials, decided once at config load from `cluster.token_file` and
 * `cluster.auth` (config-rules.ts calls {@link resolveCredentials}): how its server
 * authenticates calls, and the token it presents in each role it calls as.
 *
 * - **Legacy** (`token_file` alone, holding the old shared token): the server accepts that one
 *   token as every role, and the node presents it everywhere. Logged as a warning at start.
 * - **Elector with keys** (`cluster.auth`): the server checks role tokens and certificates with
 *   the keys; the node presents `elector.NAME.MAC` to peers (and on forwarded control calls),
 *   and, if it is also a member, `member.NAME.MAC` on its report stream, both derived here.
 * - **Upgrading elector** (`cluster.auth` and the legacy shared `token_file`): the server
 *   accepts role tokens, certificates and the shared token; the node still presents the shared
 *   token, so a cluster upgrades one node at a time (docs/security.md#upgrading).
 * - **Member-only with its token** (`token_file` holding `member.NAME.MAC`): no server; the
 *   token must be a member token of this very node (name = node name).
 */
import { type AuthKeys } from "./auth-keys.ts";
import type { ServerAuth } from "./call-authenticator.ts";
import { mintRoleToken, parseRoleToken } from "./role-token.ts";

/** What a node presents and accepts. */
export interface NodeCredentials {
  /** The legacy shared token is in use (every holder has every role). */
  readonly legacy: boolean;
  /** How this node's gRPC server authenticates calls; null on a member-only node with its token. */
  readonly server: ServerAuth | null;
  /** The token it presents as an elector (Raft peers, forwarded control calls), or null. */
  readonly electorToken: string | null;
  /** The token it presents as a member (its report stream), or null. */
  readonly memberToken: string | null;
}

/** What {@link resolveCredentials} needs of the config. */
export interface CredentialSource {
  readonly name: string;
  readonly roles: { readonly elector: boolean; readonly member: boolean };
  /** The content of `cluster.token_file`, or null when it is not set. */
  readonly token: string | null;
  /** The keys of `cluster.auth`, or null when it is not set. */
  readonly keys: AuthKeys | null;
}

/** A broken credential rule: the YAML key at fault and what is wrong. */
export interface CredentialProblem {
  readonly key: "cluster.token_file" | "cluster.auth";
  readonly problem: string;
}

/** The node's credentials, or the first rule its config breaks. */
export function resolveCredentials(src: CredentialSource): NodeCredentials | CredentialProblem {
  const { name, roles, token, keys } = src;
  if (keys !== null) {
    if (!roles.elector) {
      return {
        key: "cluster.auth",
        problem:
          "is only for electors: a member-only node holds just its own member token (`conclave token member NAME`) in cluster.token_file",
      };
    }
    if (token !== null) {
      if (parseRoleToken(token) !== null) {
        return {
          key: "cluster.token_file",
          problem:
            "holds a role token, but this elector has cluster.auth: it derives its own tokens from the keys; remove token_file",
        };
      }
      // The upgrade's middle step (docs/security.md#upgrading): accept both, present the
      // shared token, so electors and members not yet upgraded still accept this one.
      return {
        legacy: true,
        server: { kind: "keys", keys, sharedToken: token },
        electorToken: token,
        memberToken: token,
      };
    }
    return {
      legacy: false,
      server: { kind: "keys", keys },
      electorToken: mintRoleToken(keys.peer, "elector", name),
      memberToken: roles.member ? mintRoleToken(keys.members, "member", name) : null,
    };
  }
  if (token === null) {
    return {
      key: "cluster.token_file",
      problem: "is required (an elector may give cluster.auth instead: see docs/security.md)",
    };
  }
  const parts = parseRoleToken(token);
  if (parts === null)
    return { legacy: true, server: { kind: "shared", token }, electorToken: token, memberToken: token };
  if (parts.role !== "member") {
    return {
      key: "cluster.token_file",
      problem: `holds ${parts.role === "operator" || parts.role === "elector" ? "an" : "a"} ${parts.role} token; a node's token file holds its member token (member.NAME...) or the legacy cluster token`,
    };
  }
  if (parts.name !== name) {
    return {
      key: "cluster.token_file",
      problem: `holds the member token of ${parts.name}, not of this node (${name})`,
    };
  }
  if (roles.elector) {
    return {
      key: "cluster.token_file",
      problem:
        "holds a member token, but this node is an elector: give cluster.auth (the key files) instead, and remove token_file",
    };
  }
  return { legacy: false, server: null, electorToken: null, memberToken: token };
}

/** The warning a node logs at start when it uses the legacy shared token. */
export const LEGACY_TOKEN_WARNING =
  "INSECURE: cluster.token_file holds the shared cluster token: every node and operator holding it can act as any elector, member or operator; upgrade to role tokens (docs/security.md#upgrading)";
