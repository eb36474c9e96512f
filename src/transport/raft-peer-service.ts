/**
 * The receiving side of the peer transport: the `RaftPeer` service an elector's gRPC server
 * serves. Calls are authenticated, and held to the elector role, by the server's auth
 * interceptor before they get here (a `GrpcServer` puts every service behind it); each
 * stream's frames then go through an {@link InboundStream}, and only whole, validated messages
 * whose `from` is the caller's own identity are delivered (PERMISSION_DENIED otherwise: elector
 * e3 cannot speak for e2).
 *
 * A bad frame ends that one stream (INVALID_ARGUMENT, or FAILED_PRECONDITION for another
 * cluster's traffic) with a warning; the server and every other stream go on. A throwing
 * delivery callback is logged and never takes the stream down.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Message, NodeId } from "../../raft/index.ts";
import { formatIdentity, mayActAs } from "../auth/auth-role.ts";
import { callIdentity } from "../auth/call-identity.ts";
import { RefusalLog } from "../auth/refusal-log.ts";
import type { ServiceHost } from "../rpc/service-definitions.ts";
import { ClusterMismatchError, InboundStream } from "./inbound-stream.ts";
import { RAFT_PEER_SERVICE, type StreamSummaryObject } from "./raft-wire.ts";
import {
  BadPeerMessageError,
  DEFAULT_PEER_MESSAGE_LIMITS,
  type PeerMessageLimits,
} from "./validate-message.ts";

/** Options of the receiving side. */
export interface RaftPeerServiceOptions {
  /** This node: every message must be addressed to it. */
  readonly self: NodeId;
  /** This node's cluster name: messages of another cluster are refused. */
  readonly cluster: string;
  readonly logger: Logger;
  /** Called with each authenticated, validated message (snapshots with their data). */
  readonly onMessage: (m: Message) => void;
  /** Limits beyond gRPC's frame size; defaults {@link DEFAULT_PEER_MESSAGE_LIMITS}. */
  readonly limits?: Partial<PeerMessageLimits>;
  /** Which `from` refusals are logged; one per (identity, claimed sender) per minute when absent. */
  readonly refusals?: RefusalLog;
}

/** The gRPC status a refused stream ends with, by what was wrong. */
function refusalCode(err: unknown): grpc.status {
  if (err instanceof ClusterMismatchError) return grpc.status.FAILED_PRECONDITION;
  if (err instanceof BadPeerMessageError) return grpc.status.INVALID_ARGUMENT;
  return grpc.status.INTERNAL;
}

/**
 * Add the `RaftPeer` service to `server`: decode, validate and deliver peer messages. The
 * server must authenticate calls (a `GrpcServer` does, for every service).
 */
export function registerRaftPeerService(server: ServiceHost, options: RaftPeerServiceOptions): void {
  const limits: PeerMessageLimits = { ...DEFAULT_PEER_MESSAGE_LIMITS, ...options.limits };
  const { logger } = options;
  const refusals = options.refusals ?? new RefusalLog();
  const stream = (
    call: grpc.ServerReadableStream<Buffer, StreamSummaryObject>,
    callback: grpc.sendUnaryData<StreamSummaryObject>,
  ): void => {
    const peer = call.getPeer();
    const identity = callIdentity(call);
    const inbound = new InboundStream(options.self, options.cluster, limits);
    let delivered = 0;
    let finished = false;
    const finish = (err: grpc.ServerErrorResponse | null): void => {
      if (finished) return;
      finished = true;
      if (err) callback(err);
      else callback(null, { delivered });
    };
    // Response headers now, not at the end: they tell the sender the stream is accepted.
    call.sendMetadata(new grpc.Metadata());
    call.on("data", (bytes: Buffer) => {
      if (finished) return; // the stream was refused; ignore what was already in flight
      let m: Message | null;
      try {
        m = inbound.accept(bytes);
      } catch (err) {
        const reason = (err as Error).message;
        logger.warn({ peer, err: reason }, "refused a Raft peer stream");
        finish(Object.assign(new Error(reason), { code: refusalCode(err), details: reason }));
        return;
      }
      if (m === null) return;
      // Only the elector a message claims to be from may send it (the interceptor has already
      // required the elector role); null: a bare test host that authenticates nothing.
      if (identity !== null && !mayActAs(identity, m.from)) {
        const who = formatIdentity(identity);
        const reason = `${who} may not send Raft messages from ${m.from}`;
        // Once per (identity, claimed sender) per minute: a peer retrying in a loop cannot flood the log.
        const suppressed = refusals.admit(`from ${who} ${m.from}`);
        if (suppressed !== null) {
          logger.warn(
            { peer, identity: who, from: m.from, suppressed },
            `refused a Raft peer stream: ${reason}`,
          );
        }
        finish(Object.assign(new Error(reason), { code: grpc.status.PERMISSION_DENIED, details: reason }));
        return;
      }
      delivered++;
      try {
        options.onMessage(m);
      } catch (err) {
        // A driver bug must not take the stream (or the server) down with it.
        logger.error({ peer, err }, "Raft peer message handler threw");
      }
    });
    call.on("end", () => finish(null));
    // 'cancelled' / 'error': the sender went away; nothing to answer.
    call.on("cancelled", () => {
      finished = true;
    });
    call.on("error", (err: Error) => {
      finished = true;
      logger.debug({ peer, err: err.message }, "Raft peer stream error");
    });
  };
  server.addService(RAFT_PEER_SERVICE, { Stream: stream });
}
