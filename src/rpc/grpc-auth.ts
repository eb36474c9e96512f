/**
 * How a call carries its token: `authorization: Bearer <token>` metadata, on plaintext and
 * TLS channels alike (one way of presenting it everywhere). Clients attach it with
 * {@link tokenMetadata}; the server's interceptor (src/auth/auth-interceptor.ts) reads it with
 * {@link presentedToken} and decides who the caller is and what it may call.
 */
import * as grpc from "@grpc/grpc-js";

/** Metadata key carrying the token. */
const AUTH_METADATA_KEY = "authorization";
const BEARER = "Bearer ";

/**
 * Fresh metadata carrying the token, for a client to attach to each call. An empty token
 * carries none: the call relies on its client certificate (`conclave://ROLE/NAME`) alone.
 */
export function tokenMetadata(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  if (token !== "") md.set(AUTH_METADATA_KEY, `${BEARER}${token}`);
  return md;
}

/**
 * The token `metadata` presents, or null unless it carries exactly one `authorization:
 * Bearer <token>` with a non-empty token.
 */
export function presentedToken(metadata: grpc.Metadata): string | null {
  const values = metadata.get(AUTH_METADATA_KEY);
  if (values.length !== 1) return null;
  const v = values[0];
  if (typeof v !== "string" || !v.startsWith(BEARER) || v.length === BEARER.length) return null;
  return v.slice(BEARER.length);
}
