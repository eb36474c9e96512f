/**
 * The one gRPC server of a node (Raft peers, member reports and the control API share the
 * `listen` address). Every service added to it is behind the cluster-token interceptor and
 * the transport credentials (mutual TLS when configured).
 *
 * Limits: grpc-js itself rejects any message above `maxMessageBytes` (RESOURCE_EXHAUSTED)
 * before it is buffered whole, which is why snapshot data travels in chunks well below it.
 * Keepalive pings every {@link KEEPALIVE_TIME_MS} with a {@link KEEPALIVE_TIMEOUT_MS}
 * timeout notice a dead peer (crashed host, silent partition) within about four seconds;
 * a restarted process is noticed at once by its connection reset.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { assertUsableToken, createAuthInterceptor } from "./grpc-auth.ts";
import { createServerCredentials, type TlsSource } from "./grpc-credentials.ts";

/** Default largest gRPC message: 4 MiB of payload plus room for framing fields. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024 + 64 * 1024;
/** Interval between keepalive pings on an otherwise idle connection. */
export const KEEPALIVE_TIME_MS = 2000;
/** How long a keepalive ping may go unanswered before the connection is dropped. */
export const KEEPALIVE_TIMEOUT_MS = 2000;

/** A service and its handlers, as `grpc.Server.addService` takes them. */
export interface GrpcServiceRegistration {
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
}

/** Options of {@link createGrpcServer}. */
export interface GrpcServerOptions {
  /** `host:port` (IPv6 as `[::]:7400`); port 0 picks a free port, see {@link GrpcServer.port}. */
  readonly listen: string;
  /** Mutual TLS; plaintext when absent. */
  readonly tls?: TlsSource;
  /** The cluster token every call must present. */
  readonly token: string;
  readonly logger: Logger;
  /** Largest message received or sent; default {@link DEFAULT_MAX_MESSAGE_BYTES}. */
  readonly maxMessageBytes?: number;
  /** Services to serve from the start (more may be added later with `addService`). */
  readonly services?: readonly GrpcServiceRegistration[];
}

/** The address could not be bound. */
export class GrpcBindError extends Error {
  override readonly name = "GrpcBindError";
}

/**
 * Channel options for clients of a Conclave server: the same message limit and keepalive
 * as the server, reconnect backoff matching the peer transport's (50 ms up to 2 s), and no
 * gRPC-level retries or replay buffer (they hold copies of streamed messages and hide
 * backpressure; Raft retries by itself).
 */
export function createChannelOptions(maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES): grpc.ChannelOptions {
  return {
    "grpc.max_send_message_length": maxMessageBytes,
    "grpc.max_receive_message_length": maxMessageBytes,
    "grpc.keepalive_time_ms": KEEPALIVE_TIME_MS,
    "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.initial_reconnect_backoff_ms": 50,
    "grpc.max_reconnect_backoff_ms": 2000,
    "grpc.enable_retries": 0,
    // Even without retries grpc-js copies up to 256 KiB of each call's messages into a
    // replay buffer and acknowledges those writes at once, hiding backpressure from a
    // sender whose peer is stalled. Zero makes every write wait for the real stream.
    "grpc.per_rpc_retry_buffer_size": 0,
  };
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

/** Split `host:port` (host may be `[v6]`). */
function splitListen(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(":");
  const host = i > 0 ? listen.slice(0, i) : "";
  const port = Number(listen.slice(i + 1));
  if (host === "" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new GrpcBindError(`listen address must be host:port, got "${listen}"`);
  }
  return { host, port };
}

/**
 * Create, bind and start a gRPC server with token authentication on every call.
 * @throws GrpcBindError when the address is malformed or cannot be bound;
 *   InvalidTokenError for an unusable token; TlsConfigError for unreadable TLS files
 */
export async function createGrpcServer(options: GrpcServerOptions): Promise<GrpcServer> {
  assertUsableToken(options.token);
  const { host } = splitListen(options.listen);
  const max = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const serverOptions: grpc.ServerOptions = {
    "grpc.max_receive_message_length": max,
    "grpc.max_send_message_length": max,
    "grpc.keepalive_time_ms": KEEPALIVE_TIME_MS,
    "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
    "grpc.keepalive_permit_without_calls": 1,
    interceptors: [createAuthInterceptor({ token: options.token, logger: options.logger })],
  };
  const server = new grpc.Server(serverOptions);
  for (const s of options.services ?? []) server.addService(s.definition, s.implementation);
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
  return new GrpcServer(server, host, port);
}
