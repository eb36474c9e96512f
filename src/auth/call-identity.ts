/**
 * How a handler learns who is calling: the auth interceptor (auth-interceptor.ts) removes any
 * client-sent `x-conclave-identity` metadata and sets its own, from the verified credential,
 * before the handler sees the call. A client cannot forge it: whatever it sends under that
 * key is gone before the handler runs.
 */
import type * as grpc from "@grpc/grpc-js";
import { type AuthRole, type Identity, isAuthRole } from "./auth-role.ts";

/** The metadata key the interceptor sets (lower case: gRPC metadata keys are). */
export const IDENTITY_METADATA_KEY = "x-conclave-identity";

/** An identity as the interceptor writes it into metadata (ASCII: names and roles are). */
export function encodeIdentity(identity: Identity): string {
  return JSON.stringify({ name: identity.name, roles: identity.roles, shared: identity.shared });
}

/** The identity in a metadata value, or null when it is not one. */
function decodeIdentity(value: unknown): Identity | null {
  if (typeof value !== "string") return null;
  try {
    const o = JSON.parse(value) as { name?: unknown; roles?: unknown; shared?: unknown };
    if (typeof o.name !== "string" || !Array.isArray(o.roles) || typeof o.shared !== "boolean") return null;
    const roles = o.roles.filter((r): r is AuthRole => typeof r === "string" && isAuthRole(r));
    if (roles.length === 0 || roles.length !== o.roles.length) return null;
    return { name: o.name, roles, shared: o.shared };
  } catch {
    return null;
  }
}

/** Replace whatever `metadata` says about the identity with `identity` (the interceptor). */
export function setCallIdentity(metadata: grpc.Metadata, identity: Identity): void {
  metadata.remove(IDENTITY_METADATA_KEY);
  metadata.set(IDENTITY_METADATA_KEY, encodeIdentity(identity));
}

/**
 * The verified identity of a call, as the server's interceptor set it; null when the call did
 * not come through a Conclave server (`GrpcServer`), i.e. a service registered on a bare host
 * in a unit test. Every production server authenticates every call, so a handler sees null
 * only where there is no authentication at all.
 */
export function callIdentity(call: { readonly metadata?: grpc.Metadata }): Identity | null {
  const values = call.metadata?.get(IDENTITY_METADATA_KEY) ?? [];
  return values.length === 1 ? decodeIdentity(values[0]) : null;
}
