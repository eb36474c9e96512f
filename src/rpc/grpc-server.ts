/**
 * The one gRPC server of a node (Raft peers, member reports and the control API share the
 * `listen` address). Every service added to it is behind the auth interceptor
 * (src/auth/auth-interceptor.ts: who calls, and whether that role may call the method) and the
 * transport credentials (mutual TLS when configured). Its message limit and keepalive are those
 * of channel-options.ts, which its clients use too; one connection may open at most
 * GRPC_MAX_CONCURRENT_STREAMS streams at once (contract/limits.ts), so one client cannot hold
 * unbounded stream state on the server.
 *
 * A server listening off loopback without TLS logs a loud warning at start: tokens then
 * travel in clear, and anyone on the path can take one (docs/security.md).
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { DEFAULT_MAX_MESSAGE_BYTES, KEEPALIVE_TIME_MS, KEEPALIVE_TIMEOUT_MS } from "./channel-options.ts";
import { assertUsableToken, InvalidTokenError } from "./cluster-token.ts";
import { createAuthInterceptor } from "../auth/auth-interceptor.ts";
import type { ServerAuth } from "../auth/call-authenticator.ts";
import { createServerCredentials, type TlsSource } from "./grpc-credentials.ts";
import { HostPortError, splitHostPort } from "../config/host-port.ts";
import { GRPC_MAX_CONCURRENT_STREAMS } from "../contract/limits.ts";

/** Options of {@link createGrpcServer}. */
export interface GrpcServerOptions {
  /** `host:port` (IPv6 as `[::]:7400`); port 0 picks a free port, see {@link GrpcServer.port}. */
  readonly listen: string;
  /** Mutual TLS; plaintext when absent. */
  readonly tls?: TlsSource;
  /**
   * The legacy shared cluster token every call must present (its holder has every role); give
   * this or `auth`.
   */
  readonly token?: string;
  /** How calls are authenticated; `{ kind: "shared", token }` when only `token` is given. */
  readonly auth?: ServerAuth;
  readonly logger: Logger;
  /** Largest message received or sent; default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  readonly maxMessageBytes?: number;
}

/** The address could not be bound. */
export class GrpcBindError extends Error {
  override readonly name = "GrpcBindError";
}

/** A bound, serving gRPC server. */
export class GrpcServer {
  /** The bound port (the real one when `listen` asked for port 0). */
  readonly port: number;
  /** `host:port` actually bound. */
  readonly address: string;
  private closing: Promise<void> | null = null;

  constructor(
    /** The underlying grpc-js server (for tests and diagnostics). */
    readonly server: grpc.Server,
    host: string,
    port: number,
  ) {
    this.port = port;
    this.address = `${host}:${port}`;
  }

  /**
   * Serve another service. grpc-js routes by method path at call time, so this works
   * before or after binding; calls to a path not (yet) served get UNIMPLEMENTED.
   */
  addService(definition: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void {
    this.server.addService(definition, implementation);
  }

  /**
   * Stop serving: refuse new calls, give open calls (long-lived peer streams never end by
   * themselves) `graceMs` to finish, then cut them. Idempotent.
   */
  close(graceMs = 500): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.server.forceShutdown(), graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.closing;
  }
}

/** The host of a listen address as it is written in `host:port` (IPv6 in brackets). */
function listenHost(listen: string): string {
  try {
    const { host } = splitHostPort(listen, { allowPortZero: true });
    return host.includes(":") ? `[${host}]` : host;
  } catch (err) {
    if (err instanceof HostPortError) throw new GrpcBindError(`listen address: ${err.message}`);
    throw err;
  }
}

/** Whether `host` (as `splitHostPort` gives it) is a loopback address or `localhost`. */
export function isLoopbackHost(host: string): boolean {
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The authentication of `options`: `auth`, or the shared `token`. */
function serverAuth(options: GrpcServerOptions): ServerAuth {
  if (options.auth) {
    if (options.auth.kind === "shared") assertUsableToken(options.auth.token);
    return options.auth;
  }
  if (options.token === undefined) throw new InvalidTokenError("the gRPC server needs a token or auth keys");
  assertUsableToken(options.token);
  return { kind: "shared", token: options.token };
}

/**
 * Create, bind and start a gRPC server with authentication and authorization on every call.
 * @throws GrpcBindError when the address is malformed or cannot be bound;
 *   InvalidTokenError for an unusable token; TlsConfigError for unreadable TLS files
 */
export async function createGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  const auth = serverAuth(options);
  const host = listenHost(options.listen);
  const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const serverOptions: grpc.ServerOptions = {
    "grpc.max_receive_message_length": max,
    "grpc.max_send_message_length": max,
    "grpc.keepalive_time_ms": KEEPALIVE_TIME_MS,
    "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.max_concurrent_streams": GRPC_MAX_CONCURRENT_STREAMS,
    interceptors: [createAuthInterceptor({ auth, logger: options.logger })],
  };
  const server = new grpc.Server(serverOptions);
  const credentials = createServerCredentials(options.tls);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(options.listen, credentials, (err, bound) => {
      if (err) reject(new GrpcBindError(`cannot listen on ${options.listen}: ${err.message}`));
      else resolve(bound);
    });
  });
  options.logger.info(
    { address: `${host}:${port}`, tls: options.tls !== undefined },
    "gRPC server listening",
  );
  if (!options.tls && !isLoopbackHost(host)) {
    options.logger.warn(
      { address: `${host}:${port}` },
      "INSECURE: listening off loopback without TLS: tokens travel in clear and anyone on the network path can take one; configure cluster.tls (docs/security.md)",
    );
  }
  return new GrpcServer(server, host, port);
}
