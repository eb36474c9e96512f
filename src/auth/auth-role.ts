/**
 * The roles of the trust model and the identity a call is made as (docs/security.md). An
 * identity is a name and the roles it holds: a node that is both elector and member has one
 * certificate naming both, a token names exactly one.
 *
 * The legacy shared cluster token names no one: its holder gets every role and may act as
 * any name (`shared`). Every per-name rule (a Raft message's `from`, a member's own name)
 * goes through {@link mayActAs}, so the legacy mode is handled in one place.
 */

/** The roles, least privileged last among the control roles. */
export const AUTH_ROLES = ["elector", "member", "operator", "reader"] as const;

/** One of {@link AUTH_ROLES}. */
export type AuthRole = (typeof AUTH_ROLES)[number];

/** Who a call is made as. */
export interface Identity {
  /** The node, operator or dashboard name (by `nameProblem`), or `cluster-token` when shared. */
  readonly name: string;
  /** The roles it holds; never empty. */
  readonly roles: readonly AuthRole[];
  /** The legacy shared token: every role, and any name. */
  readonly shared: boolean;
}

/** The name the legacy shared token's identity carries (it names no one). */
export const SHARED_IDENTITY_NAME = "cluster-token";

/** The identity of whoever holds the legacy shared cluster token. */
export const SHARED_IDENTITY: Identity = { name: SHARED_IDENTITY_NAME, roles: AUTH_ROLES, shared: true };

/** Whether `role` is one of {@link AUTH_ROLES}. */
export function isAuthRole(role: string): role is AuthRole {
  return (AUTH_ROLES as readonly string[]).includes(role);
}

/** `reader/grafana`, `elector,member/web1`: how refusals and logs name an identity. */
export function formatIdentity(identity: Identity): string {
  return `${identity.roles.join(",")}/${identity.name}`;
}

/** Whether `identity` holds at least one of `roles`. */
export function holdsAnyRole(identity: Identity, roles: readonly AuthRole[]): boolean {
  return identity.roles.some((r) => roles.includes(r));
}

/**
 * Whether `identity` may speak for `name` (send Raft messages `from` it, report as the
 * member `name`): its own name, or any name for the shared legacy token.
 */
export function mayActAs(identity: Identity, name: string): boolean {
  return identity.shared || identity.name === name;
}
