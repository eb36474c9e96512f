/**
 * Cluster-token authentication for every gRPC call (Raft peers, member reports, control
 * API): the caller presents `authorization: Bearer <token>` metadata; the server refuses
 * anything else with UNAUTHENTICATED before any handler runs.
 *
 * Invariants: the comparison is constant-time (SHA-256 digests of equal length compared
 * with `timingSafeEqual`, so neither content nor length leaks through timing); a refusal
 * never throws out of the server, it ends that one call and logs a warning.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";

/** Metadata key carrying the token. */
const AUTH_METADATA_KEY = "authorization";

/** Status details of a refused call (clients and operators grep for this). */
const UNAUTHENTICATED_DETAILS = "missing or wrong cluster token";

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

/**
 * Whether call metadata presents exactly one `authorization: Bearer <token>` equal to `token`.
 * Constant-time in the token content. An empty expected token never matches.
 */
function checkToken(metadata: grpc.Metadata, token: string): boolean {
  if (token.length === 0) return false;
  const values = metadata.get(AUTH_METADATA_KEY);
  if (values.length !== 1) return false;
  const presented = values[0];
  if (typeof presented !== "string") return false;
  return timingSafeEqual(digest(presented), digest(`Bearer ${token}`));
}

/**
 * Fresh metadata carrying the token, for a client to attach to each call (on TLS channels
 * too: one way of presenting it everywhere).
 */
export function tokenMetadata(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set(AUTH_METADATA_KEY, `Bearer ${token}`);
  return md;
}

/** Options of {@link createAuthInterceptor}. */
export interface AuthInterceptorOptions {
  readonly token: string;
  readonly logger: Logger;
}

/**
 * A server interceptor admitting only calls that present the cluster token. Because it
 * acts on the request metadata, no handler of any service ever sees an unauthenticated
 * call; the refusal is UNAUTHENTICATED with {@link UNAUTHENTICATED_DETAILS} and a warning
 * naming the peer address and method.
 */
export function createAuthInterceptor(options: AuthInterceptorOptions): grpc.ServerInterceptor {
  const { token, logger } = options;
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            if (checkToken(metadata, token)) {
              mdNext(metadata);
              return;
            }
            logger.warn(
              { peer: call.getPeer(), method: method.path },
              `refused gRPC call: ${UNAUTHENTICATED_DETAILS}`,
            );
            // Not calling mdNext means the handler never starts; messages that still
            // arrive for this call are discarded by grpc-js once the status is sent.
            call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: UNAUTHENTICATED_DETAILS });
          },
        });
      },
    });
}
