/**
 * The gRPC channel settings every Conclave node shares, server and clients alike: the
 * largest message and the keepalive. A node's server (grpc-server.ts) and every client of
 * one (peer transport, member link, control client) take them from here, so both ends of a
 * connection agree on them.
 *
 * grpc-js itself rejects any message above the limit (RESOURCE_EXHAUSTED) before it is
 * buffered whole, which is why snapshot data travels in chunks well below it. Keepalive
 * pings every {@link KEEPALIVE_TIME_MS} with a {@link KEEPALIVE_TIMEOUT_MS} timeout notice
 * a dead peer (crashed host, silent partition) within about four seconds; a restarted
 * process is noticed at once by its connection reset.
 */
import type * as grpc from "@grpc/grpc-js";

/** Default largest gRPC message: 4 MiB of payload plus room for framing fields. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024 + 64 * 1024;
/** Interval between keepalive pings on an otherwise idle connection. */
export const KEEPALIVE_TIME_MS = 2000;
/** How long a keepalive ping may go unanswered before the connection is dropped. */
export const KEEPALIVE_TIMEOUT_MS = 2000;

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
