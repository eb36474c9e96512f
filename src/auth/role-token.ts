/**
 * Role tokens: `ROLE.NAME.MAC`, where MAC is base64url(HMAC-SHA256(key, `conclave/v1/ROLE/NAME`))
 * with the key of the role (auth-keys.ts). An elector checks any token with the keys alone,
 * without a list of names; revoking a token means rotating its key (docs/security.md).
 *
 * Invariants: the MAC covers the role and the name, so neither can be changed; the comparison
 * is constant-time; NAME follows the one name rule (`nameProblem`), which allows dots, so the
 * role is what precedes the first dot and the MAC what follows the last (base64url has none).
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { nameProblem } from "../contract/names.ts";
import { type AuthKeys, keyForRole } from "./auth-keys.ts";
import { type AuthRole, type Identity, isAuthRole } from "./auth-role.ts";

/** Length of a MAC in base64url (32 bytes). */
const MAC_CHARS = 43;
const MAC_RE = /^[A-Za-z0-9_-]{43}$/;

/** A role token taken apart (its MAC not yet checked). */
export interface RoleTokenParts {
  readonly role: AuthRole;
  readonly name: string;
  readonly mac: string;
}

/** A role or name a token cannot be made for. */
export class RoleTokenError extends Error {
  override readonly name = "RoleTokenError";
}

/** The MAC of (role, name) under `key`. */
function mac(key: Buffer, role: AuthRole, name: string): string {
  return createHmac("sha256", key).update(`conclave/v1/${role}/${name}`, "utf8").digest("base64url");
}

/**
 * Make the token of `name` in `role` with `key` (the key of that role).
 * @throws RoleTokenError for an invalid name
 */
export function mintRoleToken(key: Buffer, role: AuthRole, name: string): string {
  const problem = nameProblem(role, name);
  if (problem !== null) throw new RoleTokenError(problem);
  return `${role}.${name}.${mac(key, role, name)}`;
}

/**
 * `token` taken apart, or null when it does not have the shape of a role token (a legacy
 * shared token, say). The MAC is not checked here.
 */
export function parseRoleToken(token: string): RoleTokenParts | null {
  const first = token.indexOf(".");
  const last = token.lastIndexOf(".");
  if (first <= 0 || last <= first + 1) return null;
  const role = token.slice(0, first);
  const name = token.slice(first + 1, last);
  const m = token.slice(last + 1);
  if (!isAuthRole(role) || m.length !== MAC_CHARS || !MAC_RE.test(m)) return null;
  if (nameProblem(role, name) !== null) return null;
  return { role, name, mac: m };
}

/**
 * The identity `token` proves with `keys`, or null when it is not a role token or its MAC is
 * wrong (made with another key, or altered).
 */
export function verifyRoleToken(keys: AuthKeys, token: string): Identity | null {
  const parts = parseRoleToken(token);
  if (parts === null) return null;
  const expected = Buffer.from(mac(keyForRole(keys, parts.role), parts.role, parts.name), "utf8");
  const presented = Buffer.from(parts.mac, "utf8");
  // Equal lengths (both MAC_CHARS, checked by the parse), so timingSafeEqual cannot throw.
  if (!timingSafeEqual(expected, presented)) return null;
  return { name: parts.name, roles: [parts.role], shared: false };
}
