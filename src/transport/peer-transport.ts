/**
 * The network seam between electors. The driver hands it each Ready's messages after they
 * are persisted; it delivers what it can and tells the driver what it could not, so Raft
 * can fall back to probing or resend a snapshot.
 */
import type { Message, NodeId } from "../../raft/index.ts";

/** Callbacks from the transport into the driver. */
export interface PeerTransportEvents {
  /** A well-formed message from a peer (already authenticated and validated). */
  onMessage(m: Message): void;
  /** A peer could not be reached (connect failure, broken stream, full queue). */
  onUnreachable(peer: NodeId): void;
  /** A snapshot message to `peer` was fully sent (ok) or failed. */
  onSnapshotStatus(peer: NodeId, ok: boolean): void;
}

/** Sends Raft messages to peers. */
export interface PeerTransport {
  /** Queue messages for sending. Never blocks: a full per-peer queue drops and reports unreachable. */
  send(messages: readonly Message[]): void;
  /** The current peer address book (name -> host:port). Streams to removed peers are closed. */
  setPeers(peers: ReadonlyMap<NodeId, string>): void;
  /** Close every stream. */
  close(): Promise<void>;
}
