/**
 * The server interceptor every Conclave gRPC server puts in front of every service
 * (rpc/grpc-server.ts): authenticate the call (call-authenticator.ts), authorize it by its
 * method (method-roles.ts), and hand the verified identity to the handler (call-identity.ts).
 *
 * Because it acts on the request metadata, no handler ever sees a call that is not both:
 * - no or wrong credential: UNAUTHENTICATED (`missing or wrong cluster token`);
 * - a role the method does not allow, or a method not in the table: PERMISSION_DENIED, naming
 *   the role needed and the identity that called (`needs role operator; called as
 *   reader/grafana`).
 * Each refusal is logged once per (identity, method) per minute (refusal-log.ts), or, for a
 * caller with no valid credential, once per (peer host, method): never once per call, and not
 * once per connection either (a member or CLI retrying dials from a new port each time); a
 * refusal never throws out of the server, it ends that one call.
 */
import { isIP } from "node:net";
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { formatIdentity, holdsAnyRole } from "./auth-role.ts";
import { authenticateCall, type ServerAuth } from "./call-authenticator.ts";
import { setCallIdentity } from "./call-identity.ts";
import { rolesForMethod } from "./method-roles.ts";
import { RefusalLog } from "./refusal-log.ts";

/** Options of {@link createAuthInterceptor}. */
export interface AuthInterceptorOptions {
  readonly auth: ServerAuth;
  readonly logger: Logger;
  /** Which refusals are logged; one per key per minute when absent. */
  readonly refusals?: RefusalLog;
}

/** The details of a PERMISSION_DENIED for `method` refused to `who`. */
export function permissionDeniedDetails(method: string, needed: string | undefined, who: string): string {
  return needed === undefined
    ? `${method} is not open to any role; called as ${who}`
    : `needs role ${needed}; called as ${who}`;
}

/**
 * The host of a peer as grpc-js's server gives it (`10.0.0.7:40124`, `::1:40124`,
 * `[::1]:40124`): the address without its port, or the whole string when it has none.
 */
export function peerHost(peer: string): string {
  const bracketed = /^\[(.+)\]:\d+$/.exec(peer);
  if (bracketed) return bracketed[1]!;
  const m = /^(.+):\d+$/.exec(peer);
  return m && isIP(m[1]!) !== 0 ? m[1]! : peer;
}

/** A server interceptor enforcing authentication and the method table on every call. */
export function createAuthInterceptor(options: AuthInterceptorOptions): grpc.ServerInterceptor {
  const { auth, logger } = options;
  const refusals = options.refusals ?? new RefusalLog();
  return (method, call) =>
    new grpc.ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, mdNext) {
            const peer = call.getPeer();
            const outcome = authenticateCall(auth, metadata, call.getAuthContext()?.sslPeerCertificate);
            if (!("identity" in outcome)) {
              const suppressed = refusals.admit(`unauthenticated ${peerHost(peer)} ${method.path}`);
              if (suppressed !== null) {
                logger.warn(
                  { peer, method: method.path, suppressed },
                  `refused gRPC call: ${outcome.problem}`,
                );
              }
              // Not calling mdNext means the handler never starts; messages that still
              // arrive for this call are discarded by grpc-js once the status is sent.
              call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: outcome.problem });
              return;
            }
            const { identity } = outcome;
            const allowed = rolesForMethod(method.path);
            if (!holdsAnyRole(identity, allowed)) {
              const who = formatIdentity(identity);
              const details = permissionDeniedDetails(method.path, allowed[0], who);
              const suppressed = refusals.admit(`denied ${who} ${method.path}`);
              if (suppressed !== null) {
                logger.warn(
                  { peer, method: method.path, identity: who, suppressed },
                  `refused gRPC call: ${details}`,
                );
              }
              call.sendStatus({ code: grpc.status.PERMISSION_DENIED, details });
              return;
            }
            setCallIdentity(metadata, identity);
            mdNext(metadata);
          },
        });
      },
    });
}
