/**
 * The gRPC implementation of {@link PeerTransport}: Raft messages between electors over one
 * long-lived client stream (`RaftPeer.Stream`) per (sender, receiver) pair. This file is the
 * sending side; the receiving side is raft-peer-service.ts, served through {@link
 * GrpcPeerTransport.register}.
 *
 * Per peer:
 * - The stream is opened lazily, by the first message for that peer, so a follower only
 *   holds streams to the peers it actually talks to (outbound-stream.ts).
 * - An outbound queue bounded to `queueLimit` messages; beyond it messages are dropped and
 *   reported unreachable (Raft resends from its log). Stream backpressure is honoured:
 *   when `write()` returns false nothing more is written until 'drain'.
 * - A stream the receiver accepts (sends its response headers, right after the token check)
 *   resets the reconnect backoff.
 * - When a stream fails: one `onUnreachable`, a failed `onSnapshotStatus` for a snapshot in
 *   flight, and no new stream before a backoff delay (50 ms doubling to 2 s, jittered,
 *   reconnect-backoff.ts); messages sent meanwhile are dropped and reported, so no stale
 *   backlog builds up for a dead peer.
 * - A snapshot is a `snap` message frame carrying the metadata and the data size, then the
 *   data in chunks of `snapshotChunkBytes`, the last one flagged. Chunks are written one at
 *   a time (each waits for gRPC to take the previous), so sending a snapshot holds about
 *   one chunk of extra memory. `onSnapshotStatus(peer, true)` follows the write of the last
 *   chunk; other messages to that peer queue behind the snapshot.
 *
 * Every `snap` message handed to `send` gets exactly one `onSnapshotStatus`, unless the
 * transport is closed first. Events are never invoked synchronously from `send()` or
 * `setPeers()`, so the driver is not re-entered while it hands over a Ready's messages.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Message, NodeId } from "../../raft/index.ts";
import { DEFAULT_MAX_MESSAGE_BYTES, createChannelOptions } from "../rpc/channel-options.ts";
import { assertUsableToken } from "../rpc/cluster-token.ts";
import {
  createClientCredentials,
  loadTlsMaterial,
  peerChannelOptions,
  type TlsMaterial,
  type TlsSource,
} from "../rpc/grpc-credentials.ts";
import type { ServiceHost } from "../rpc/service-definitions.ts";
import { MessageQueue } from "./message-queue.ts";
import {
  closeOutboundStream,
  type OutboundStream,
  openOutboundStream,
  usable,
  waitFor,
  writeAndWait,
} from "./outbound-stream.ts";
import type { PeerTransport, PeerTransportEvents } from "./peer-transport.ts";
import { encodeMessage } from "./raft-codec.ts";
import { registerRaftPeerService } from "./raft-peer-service.ts";
import { encodeFrame } from "./raft-wire.ts";
import { ReconnectBackoff } from "./reconnect-backoff.ts";
import type { PeerMessageLimits } from "./validate-message.ts";

/** Default snapshot chunk size: small against the frame limit, large enough to be cheap. */
const SNAPSHOT_CHUNK_BYTES = 256 * 1024;
/** Default bound of each peer's outbound queue, in messages. */
const DEFAULT_QUEUE_LIMIT = 4096;

/** Options of {@link GrpcPeerTransport}. */
export interface GrpcPeerTransportOptions {
  /** This node's name (the `from` of what it sends, the required `to` of what it receives). */
  readonly self: NodeId;
  /** The cluster name, sent with every message and checked on receipt. */
  readonly cluster: string;
  /** The cluster token presented on every stream. */
  readonly token: string;
  /** Mutual TLS; plaintext when absent. */
  readonly tls?: TlsSource;
  readonly logger: Logger;
  readonly events: PeerTransportEvents;
  /** Most messages waiting per peer; default 4096. */
  readonly queueLimit?: number;
  /** Largest frame sent or received; default {@link DEFAULT_MAX_MESSAGE_BYTES}. Same on every node. */
  readonly maxFrameBytes?: number;
  /** Snapshot chunk size; default 256 KiB. */
  readonly snapshotChunkBytes?: number;
  /** Receive limits (for {@link GrpcPeerTransport.register}). */
  readonly limits?: Partial<PeerMessageLimits>;
  /** First reconnect delay; default 50 ms. */
  readonly backoffInitialMs?: number;
  /** Largest reconnect delay; default 2000 ms. */
  readonly backoffMaxMs?: number;
  /** A stream not accepted by the receiver within this time is abandoned; default 5000 ms. */
  readonly connectTimeoutMs?: number;
}

/** Everything the transport keeps about one peer. */
interface PeerState {
  readonly id: NodeId;
  readonly address: string;
  client: grpc.Client | null;
  stream: OutboundStream | null;
  readonly queue: MessageQueue;
  /** A pump is scheduled or running; at most one writes to the stream at a time. */
  pumping: boolean;
  readonly backoff: ReconnectBackoff;
  /** Removed by setPeers or close(): nothing more is sent; its stream's end is no failure. */
  removed: boolean;
}

/** Peer transport over gRPC client streams. @see module documentation */
export class GrpcPeerTransport implements PeerTransport {
  private readonly peers = new Map<NodeId, PeerState>();
  private readonly tls: TlsMaterial | undefined;
  private readonly channelOptions: grpc.ChannelOptions;
  private readonly queueLimit: number;
  private readonly maxFrameBytes: number;
  private readonly chunkBytes: number;
  private readonly backoffInitialMs: number;
  private readonly backoffMaxMs: number;
  private readonly connectTimeoutMs: number;
  private readonly log: Logger;
  private closed = false;

  /**
   * @throws InvalidTokenError for an unusable token; TlsConfigError for unreadable TLS files
   */
  constructor(private readonly options: GrpcPeerTransportOptions) {
    assertUsableToken(options.token);
    this.tls = options.tls ? loadTlsMaterial(options.tls) : undefined;
    this.maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.channelOptions = createChannelOptions(this.maxFrameBytes);
    this.queueLimit = options.queueLimit ?? DEFAULT_QUEUE_LIMIT;
    this.chunkBytes = options.snapshotChunkBytes ?? SNAPSHOT_CHUNK_BYTES;
    // A chunk frame adds a few bytes of framing to its data.
    if (this.chunkBytes < 1 || this.chunkBytes > this.maxFrameBytes - 64) {
      throw new RangeError(`snapshotChunkBytes must be in [1, maxFrameBytes - 64], got ${this.chunkBytes}`);
    }
    this.backoffInitialMs = options.backoffInitialMs ?? 50;
    this.backoffMaxMs = options.backoffMaxMs ?? 2000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5000;
    this.log = options.logger;
  }

  /** Serve the receiving side of this transport on `server` (delivering to `events.onMessage`). */
  register(server: ServiceHost): void {
    registerRaftPeerService(server, {
      self: this.options.self,
      cluster: this.options.cluster,
      logger: this.log,
      onMessage: (m) => this.options.events.onMessage(m),
      ...(this.options.limits ? { limits: this.options.limits } : {}),
    });
  }

  /** Queue messages; never blocks, never calls an event synchronously. */
  send(messages: readonly Message[]): void {
    if (this.closed) return;
    const now = performance.now();
    for (const m of messages) {
      const p = this.peers.get(m.to);
      if (!p) {
        this.drop(m.to, m, "unknown peer");
      } else if (p.stream === null && p.backoff.waiting(now)) {
        this.drop(p.id, m, "peer unreachable; waiting to reconnect");
      } else if (p.queue.length >= this.queueLimit) {
        this.drop(p.id, m, "outbound queue full");
      } else {
        p.queue.push(m);
        if (!p.pumping) {
          p.pumping = true;
          queueMicrotask(() => void this.pump(p));
        }
      }
    }
  }

  /** Adopt a new address book: new peers are added (connected on first send), others closed. */
  setPeers(peers: ReadonlyMap<NodeId, string>): void {
    if (this.closed) return;
    for (const [id, p] of this.peers) {
      if (peers.get(id) === p.address) continue;
      this.peers.delete(id);
      void this.closePeer(p, true);
    }
    for (const [id, address] of peers) {
      if (id === this.options.self || this.peers.has(id)) continue;
      this.peers.set(id, {
        id,
        address,
        client: null,
        stream: null,
        queue: new MessageQueue(),
        pumping: false,
        backoff: new ReconnectBackoff(this.backoffInitialMs, this.backoffMaxMs),
        removed: false,
      });
    }
  }

  /** End every stream (letting written frames flush briefly) and close every channel. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const peers = [...this.peers.values()];
    this.peers.clear();
    await Promise.all(peers.map((p) => this.closePeer(p, false)));
  }

  /** Report a message that will not be sent (deferred: see the module invariants). */
  private drop(peer: NodeId, m: Message, why: string): void {
    this.log.debug({ peer, type: m.type, why }, "dropped Raft message");
    const snap = m.type === "snap";
    queueMicrotask(() => {
      if (this.closed) return;
      this.options.events.onUnreachable(peer);
      if (snap) this.options.events.onSnapshotStatus(peer, false);
    });
  }

  /** Stop sending to `p`; its queued and in-flight snapshots fail (reported when `reportSnapshots`). */
  private async closePeer(p: PeerState, reportSnapshots: boolean): Promise<void> {
    p.removed = true;
    const queued = p.queue.drain();
    const s = p.stream;
    p.stream = null;
    let failedSnapshots = queued.filter((m) => m.type === "snap").length;
    if (s?.snapshotInFlight) {
      s.snapshotInFlight = false; // so the send loop does not report it as well
      failedSnapshots++;
    }
    if (reportSnapshots && failedSnapshots > 0) {
      queueMicrotask(() => {
        if (this.closed) return;
        for (let i = 0; i < failedSnapshots; i++) this.options.events.onSnapshotStatus(p.id, false);
      });
    }
    if (s && !s.ended) await closeOutboundStream(s);
    p.client?.close();
    p.client = null;
  }

  /** Write queued messages to the peer's stream, one at a time, until the queue is empty. */
  private async pump(p: PeerState): Promise<void> {
    try {
      for (;;) {
        if (this.closed || p.removed) return;
        const m = p.queue.shift();
        if (!m) return;
        let s = p.stream;
        if (s === null) {
          if (p.backoff.waiting(performance.now())) {
            // The stream failed while these waited: drop them rather than keep a backlog.
            for (const dropped of [m, ...p.queue.drain()]) {
              this.drop(p.id, dropped, "peer unreachable; waiting to reconnect");
            }
            return;
          }
          s = this.open(p);
        }
        try {
          if (m.type === "snap") await this.writeSnapshot(p, s, m);
          else await this.writeMessage(p, s, m);
        } catch (err) {
          // Only a bug lands here (say, encoding a malformed message of our own): report
          // this message as undeliverable, once, and go on with the next.
          this.log.error({ peer: p.id, type: m.type, err }, "cannot send Raft message");
          if (m.type === "snap" && s.snapshotInFlight) {
            // The receiver may hold part of it: end the stream so it starts afresh.
            s.snapshotInFlight = false;
            s.call.cancel();
          }
          this.drop(p.id, m, "send failed");
        }
      }
    } finally {
      p.pumping = false;
      // Messages may have been queued after the loop saw an empty queue.
      if (p.queue.length > 0 && !p.removed && !this.closed) {
        p.pumping = true;
        queueMicrotask(() => void this.pump(p));
      }
    }
  }

  private async writeMessage(p: PeerState, s: OutboundStream, m: Message): Promise<void> {
    const frame = encodeFrame({ message: encodeMessage(m, this.options.cluster) });
    if (frame.length > this.maxFrameBytes) {
      // Sending it would only make gRPC fail the whole stream.
      this.log.error(
        { peer: p.id, type: m.type, bytes: frame.length },
        "Raft message exceeds the frame limit",
      );
      this.drop(p.id, m, "message too large");
      return;
    }
    if (!s.call.write(frame)) await waitFor(s, (wake) => s.call.once("drain", wake));
  }

  private async writeSnapshot(p: PeerState, s: OutboundStream, m: Message): Promise<void> {
    const snap = m.snapshot;
    if (!snap) {
      this.log.error({ peer: p.id }, "snap message without a snapshot");
      this.drop(p.id, m, "snap message without a snapshot");
      return;
    }
    if (!usable(s)) {
      this.drop(p.id, m, "stream ended");
      return;
    }
    s.snapshotInFlight = true;
    // Write callbacks fire once gRPC has taken a frame, even on a stream the receiver is
    // about to refuse (wrong token): wait for the receiver's headers first, so "sent" means
    // sent on an accepted stream and no megabytes are pushed into a doomed one.
    if (!s.accepted) await waitFor(s, (wake) => s.call.once("metadata", wake));
    if (!s.accepted || !usable(s)) return; // the stream's end (or close) reported the snapshot
    const data = snap.data;
    this.log.info({ peer: p.id, index: snap.meta.index, bytes: data.length }, "sending snapshot");
    // Each frame is encoded only once gRPC has taken the previous one: about one chunk of
    // extra memory whatever the snapshot size. Empty data still gets one (last) chunk.
    let ok = await writeAndWait(s, encodeFrame({ message: encodeMessage(m, this.options.cluster) }));
    for (let offset = 0; ok; offset += this.chunkBytes) {
      const end = Math.min(offset + this.chunkBytes, data.length);
      const last = end === data.length;
      ok = await writeAndWait(s, encodeFrame({ chunk: { offset, data: data.subarray(offset, end), last } }));
      if (last) break;
    }
    // When not ok, the stream failed or was closed, and that path reported the snapshot.
    if (!ok || !s.snapshotInFlight) return;
    s.snapshotInFlight = false;
    this.log.info({ peer: p.id, index: snap.meta.index }, "snapshot sent");
    this.options.events.onSnapshotStatus(p.id, true);
  }

  private clientFor(p: PeerState): grpc.Client {
    if (!p.client) {
      const credentials = createClientCredentials(this.tls, { peerName: p.id, address: p.address });
      const options = this.tls
        ? { ...this.channelOptions, ...peerChannelOptions(p.id) }
        : this.channelOptions;
      p.client = new grpc.Client(p.address, credentials, options);
    }
    return p.client;
  }

  /** Open a new stream to `p`. Its end (error or not) is handled by {@link onStreamEnd}. */
  private open(p: PeerState): OutboundStream {
    const s = openOutboundStream({
      client: this.clientFor(p),
      token: this.options.token,
      connectTimeoutMs: this.connectTimeoutMs,
      onAccepted: () => {
        if (p.backoff.succeeded())
          this.log.info({ peer: p.id, address: p.address }, "Raft peer reachable again");
      },
      onConnectTimeout: () =>
        this.log.debug({ peer: p.id, address: p.address }, "peer did not accept the stream in time"),
      onEnd: (ended, err) => this.onStreamEnd(p, ended, err),
    });
    p.stream = s;
    return s;
  }

  private onStreamEnd(p: PeerState, s: OutboundStream, err: grpc.ServiceError | null): void {
    if (p.stream === s) p.stream = null;
    if (s.closing || p.removed || this.closed) return;

    // Our streams never end by design, so even a clean end is a failure to recover from.
    const retryInMs = p.backoff.failed();
    const fields = {
      peer: p.id,
      address: p.address,
      code: err ? grpc.status[err.code] : "OK",
      details: err?.details,
      retryInMs: Math.round(retryInMs),
    };
    const refused =
      err?.code === grpc.status.UNAUTHENTICATED ||
      err?.code === grpc.status.INVALID_ARGUMENT ||
      err?.code === grpc.status.FAILED_PRECONDITION;
    if (!p.backoff.loud) this.log.debug(fields, "Raft peer still unreachable");
    else if (refused) this.log.error(fields, "Raft peer refused our stream");
    else this.log.warn(fields, "Raft peer unreachable");

    this.options.events.onUnreachable(p.id);
    if (s.snapshotInFlight) {
      s.snapshotInFlight = false;
      this.options.events.onSnapshotStatus(p.id, false);
    }
  }
}
