/**
 * The gRPC implementation of {@link PeerTransport}: Raft messages between electors over one
 * long-lived client stream (`RaftPeer.Stream`) per (sender, receiver) pair.
 *
 * Sending side, per peer:
 * - The stream is opened lazily, by the first message for that peer, so a follower only
 *   holds streams to the peers it actually talks to.
 * - An outbound queue bounded to `queueLimit` messages; beyond it messages are dropped and
 *   reported unreachable (Raft resends from its log). Stream backpressure is honoured:
 *   when `write()` returns false nothing more is written until 'drain'.
 * - A stream counts as established once the receiver sends its response headers, which it
 *   does right after the token check; that resets the reconnect backoff.
 * - When a stream fails: one `onUnreachable`, a failed `onSnapshotStatus` for a snapshot in
 *   flight, and no new stream before a backoff delay (50 ms doubling to 2 s, jittered);
 *   messages sent meanwhile are dropped and reported, so no stale backlog builds up for a
 *   dead peer.
 * - A snapshot is a `snap` message frame carrying the metadata and the data size, then the
 *   data in chunks of `snapshotChunkBytes`, the last one flagged. Chunks are written one at
 *   a time (each waits for gRPC to take the previous), so sending a snapshot holds about
 *   one chunk of extra memory. `onSnapshotStatus(peer, true)` follows the write of the last
 *   chunk; other messages to that peer queue behind the snapshot.
 *
 * Every `snap` message handed to `send` gets exactly one `onSnapshotStatus`, unless the
 * transport is closed first. Events are never invoked synchronously from `send()` or
 * `setPeers()`, so the driver is not re-entered while it hands over a Ready's messages.
 *
 * Receiving side ({@link registerRaftPeerService}): authenticated by the server's token
 * interceptor, then each frame is decoded, checked against the cluster name and
 * {@link validateMessage}, snapshot chunks are reassembled, and only then is the message
 * delivered. A bad frame ends that stream with INVALID_ARGUMENT and a warning; the server
 * and other streams go on.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Message, NodeId } from "../../raft/index.ts";
import { assertUsableToken, tokenMetadata } from "../rpc/grpc-auth.ts";
import {
  createClientCredentials,
  loadTlsMaterial,
  peerChannelOptions,
  type TlsMaterial,
  type TlsSource,
} from "../rpc/grpc-credentials.ts";
import { createChannelOptions, DEFAULT_MAX_MESSAGE_BYTES } from "../rpc/grpc-server.ts";
import type { ServiceHost } from "../rpc/service-definitions.ts";
import type { PeerTransport, PeerTransportEvents } from "./peer-transport.ts";
import {
  BadPeerMessageError,
  DEFAULT_PEER_MESSAGE_LIMITS,
  decodeFrame,
  decodeMessage,
  decodeStreamSummary,
  encodeFrame,
  encodeMessage,
  encodeStreamSummary,
  type PeerMessageLimits,
  RAFT_PEER_STREAM_PATH,
  type RaftMessageObject,
  type StreamSummaryObject,
  validateMessage,
} from "./raft-codec.ts";

/** Default snapshot chunk size: small against the frame limit, large enough to be cheap. */
export const SNAPSHOT_CHUNK_BYTES = 256 * 1024;
/** Default bound of each peer's outbound queue, in messages. */
export const DEFAULT_QUEUE_LIMIT = 4096;

/**
 * The `RaftPeer` service definition. Frames cross grpc-js as raw bytes: the sender encodes
 * them itself (it needs their size) and the receiver decodes them in the handler, so a
 * malformed frame is answered INVALID_ARGUMENT with a reason instead of a bare INTERNAL.
 */
export const RAFT_PEER_SERVICE: grpc.ServiceDefinition = {
  Stream: {
    path: RAFT_PEER_STREAM_PATH,
    requestStream: true,
    responseStream: false,
    requestSerialize: (frame: Buffer) => frame,
    requestDeserialize: (bytes: Buffer) => bytes,
    responseSerialize: (s: StreamSummaryObject) => encodeStreamSummary(s),
    responseDeserialize: (bytes: Buffer) => decodeStreamSummary(bytes),
    originalName: "stream",
  },
};

/** The sending cluster differs from ours: traffic for another cluster reached this node. */
export class ClusterMismatchError extends Error {
  override readonly name = "ClusterMismatchError";
  constructor(
    readonly expected: string,
    readonly got: string,
  ) {
    super(`message for cluster "${got}" reached a node of cluster "${expected}"`);
  }
}

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
}

/** A snapshot being reassembled on a stream. */
interface Assembly {
  /** The `snap` message, already validated with empty data. */
  readonly message: Message;
  readonly data: Uint8Array;
  received: number;
}

/** Per-stream receive state machine: frames in, validated messages out. */
class InboundStream {
  private assembly: Assembly | null = null;
  /** The sender, fixed by the first message: a stream never changes sender. */
  private from: NodeId | null = null;

  constructor(
    private readonly self: NodeId,
    private readonly cluster: string,
    private readonly limits: PeerMessageLimits,
  ) {}

  /**
   * Take one frame; returns a message ready for delivery, or null while a snapshot is
   * still arriving.
   * @throws BadPeerMessageError or ClusterMismatchError; the stream must then be ended
   */
  accept(bytes: Uint8Array): Message | null {
    const frame = decodeFrame(bytes);
    if (frame.chunk) return this.acceptChunk(frame.chunk.offset, frame.chunk.data, frame.chunk.last);
    if (this.assembly) {
      throw new BadPeerMessageError(
        "frame",
        "frames out of order: a message arrived inside a snapshot transfer",
      );
    }
    const obj: RaftMessageObject = frame.message;
    if (obj.cluster !== this.cluster) throw new ClusterMismatchError(this.cluster, obj.cluster);
    const m = decodeMessage(obj);
    validateMessage(m, this.self, this.limits);
    if (this.from === null) this.from = m.from;
    else if (m.from !== this.from) {
      throw new BadPeerMessageError("from", `stream of ${this.from} carried a message from ${m.from}`);
    }
    if (m.type !== "snap") return m;
    const size = obj.snapshotMeta?.dataSize;
    if (typeof size !== "number" || !Number.isSafeInteger(size) || size < 0) {
      throw new BadPeerMessageError("snapshot.data", `bad data size ${String(size)}`);
    }
    if (size > this.limits.maxSnapshotBytes) {
      throw new BadPeerMessageError("snapshot.data", `${size} bytes exceeds ${this.limits.maxSnapshotBytes}`);
    }
    // One allocation of the announced size: no concatenation copy at the end.
    this.assembly = { message: m, data: new Uint8Array(size), received: 0 };
    return null;
  }

  private acceptChunk(offset: number, data: Uint8Array, last: boolean): Message | null {
    const a = this.assembly;
    if (!a)
      throw new BadPeerMessageError("frame", "frames out of order: a snapshot chunk without a snap message");
    if (offset !== a.received) {
      throw new BadPeerMessageError("chunk.offset", `expected ${a.received}, got ${String(offset)}`);
    }
    if (!(data instanceof Uint8Array) || data.length > a.data.length - a.received) {
      throw new BadPeerMessageError("chunk.data", "more data than the snapshot announced");
    }
    a.data.set(data, a.received);
    a.received += data.length;
    const complete = a.received === a.data.length;
    if (last !== complete) {
      throw new BadPeerMessageError(
        "chunk.last",
        last
          ? `last chunk at ${a.received} of ${a.data.length} bytes`
          : "data complete but chunk not flagged last",
      );
    }
    if (!last) return null;
    this.assembly = null;
    const snap = a.message.snapshot!;
    return { ...a.message, snapshot: { meta: snap.meta, data: a.data } };
  }
}

/**
 * The `RaftPeer` service for a server: decode, validate and deliver peer messages. The
 * caller's server must authenticate calls (a {@link GrpcServer} does, for every service).
 */
export function raftPeerService(options: RaftPeerServiceOptions): {
  definition: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
} {
  const limits: PeerMessageLimits = { ...DEFAULT_PEER_MESSAGE_LIMITS, ...options.limits };
  const { logger } = options;
  const stream = (
    call: grpc.ServerReadableStream<Buffer, StreamSummaryObject>,
    callback: grpc.sendUnaryData<StreamSummaryObject>,
  ): void => {
    const peer = call.getPeer();
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
        const mismatch = err instanceof ClusterMismatchError;
        const bad = err instanceof BadPeerMessageError;
        logger.warn({ peer, err: (err as Error).message }, "refused a Raft peer stream");
        const code = mismatch
          ? grpc.status.FAILED_PRECONDITION
          : bad
            ? grpc.status.INVALID_ARGUMENT
            : grpc.status.INTERNAL;
        finish(Object.assign(new Error((err as Error).message), { code, details: (err as Error).message }));
        return;
      }
      if (m === null) return;
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
  return { definition: RAFT_PEER_SERVICE, implementation: { Stream: stream } };
}

/** Add the `RaftPeer` service to a server. */
export function registerRaftPeerService(server: ServiceHost, options: RaftPeerServiceOptions): void {
  const s = raftPeerService(options);
  server.addService(s.definition, s.implementation);
}

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
  /** Most messages waiting per peer; default {@link DEFAULT_QUEUE_LIMIT}. */
  readonly queueLimit?: number;
  /** Largest frame sent or received; default {@link DEFAULT_MAX_MESSAGE_BYTES}. Same on every node. */
  readonly maxFrameBytes?: number;
  /** Snapshot chunk size; default {@link SNAPSHOT_CHUNK_BYTES}. */
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

/** A FIFO of messages with O(1) push and shift (raft bursts can be thousands long). */
class MessageQueue {
  private items: Message[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(m: Message): void {
    this.items.push(m);
  }

  shift(): Message | undefined {
    if (this.head >= this.items.length) return undefined;
    const m = this.items[this.head]!;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return m;
  }

  /** Remove and return everything. */
  drain(): Message[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}

/** One open (or opening) client stream to a peer. */
interface OutboundStream {
  readonly call: grpc.ClientWritableStream<Buffer>;
  /** The receiver sent its headers: authenticated and accepted. */
  accepted: boolean;
  /** The call has ended (status received); nothing written now is delivered. */
  ended: boolean;
  /** Ended on purpose (peer removed or transport closed): not a failure to report. */
  closing: boolean;
  /** A snapshot has been started on this stream and not yet reported. */
  snapshotInFlight: boolean;
  /** Called when the stream ends, to release writers waiting for 'drain' or a write callback. */
  readonly waiters: Set<() => void>;
  connectTimer: NodeJS.Timeout | null;
  /** Resolves when the call has ended. */
  readonly done: Promise<void>;
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
  /** The next reconnect delay. */
  backoffMs: number;
  /** No new stream before this time (performance.now()). */
  retryAt: number;
  /** Consecutive failed streams (for log throttling). */
  failures: number;
  /** Removed by setPeers or close(): nothing more is sent; its stream's end is no failure. */
  removed: boolean;
}

/** Whether frames written to `s` can still be delivered. */
function usable(s: OutboundStream): boolean {
  return !s.ended && !s.closing;
}

/** Time to let a closing stream flush before cancelling it. */
const CLOSE_GRACE_MS = 1000;

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
      } else if (p.stream === null && now < p.retryAt) {
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
        backoffMs: this.backoffInitialMs,
        retryAt: 0,
        failures: 0,
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
    if (s && !s.ended) {
      s.closing = true;
      s.call.end();
      const timer = setTimeout(() => s.call.cancel(), CLOSE_GRACE_MS);
      await s.done;
      clearTimeout(timer);
    }
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
          if (performance.now() < p.retryAt) {
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
    if (!s.call.write(frame)) await this.waitFor(s, (wake) => s.call.once("drain", wake));
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
    if (!s.accepted) await this.waitFor(s, (wake) => s.call.once("metadata", wake));
    if (!s.accepted || !usable(s)) return; // the stream's end (or close) reported the snapshot
    const data = snap.data;
    this.log.info({ peer: p.id, index: snap.meta.index, bytes: data.length }, "sending snapshot");
    // Each frame is encoded only once gRPC has taken the previous one: about one chunk of
    // extra memory whatever the snapshot size. Empty data still gets one (last) chunk.
    let ok = await this.writeAndWait(s, encodeFrame({ message: encodeMessage(m, this.options.cluster) }));
    for (let offset = 0; ok; offset += this.chunkBytes) {
      const end = Math.min(offset + this.chunkBytes, data.length);
      const last = end === data.length;
      ok = await this.writeAndWait(
        s,
        encodeFrame({ chunk: { offset, data: data.subarray(offset, end), last } }),
      );
      if (last) break;
    }
    // When not ok, the stream failed or was closed, and that path reported the snapshot.
    if (!ok || !s.snapshotInFlight) return;
    s.snapshotInFlight = false;
    this.log.info({ peer: p.id, index: snap.meta.index }, "snapshot sent");
    this.options.events.onSnapshotStatus(p.id, true);
  }

  /** Write one frame and wait until gRPC has taken it; false when the stream ended first. */
  private async writeAndWait(s: OutboundStream, frame: Buffer): Promise<boolean> {
    if (!usable(s)) return false;
    await this.waitFor(s, (wake) => s.call.write(frame, () => wake()));
    return usable(s);
  }

  /** Wait until `arm`'s callback fires or the stream ends, whichever is first. */
  private waitFor(s: OutboundStream, arm: (wake: () => void) => void): Promise<void> {
    if (s.ended) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        s.waiters.delete(wake);
        resolve();
      };
      s.waiters.add(wake);
      arm(wake);
    });
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
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    // `s` is assigned before any callback can run (they are all asynchronous).
    let s!: OutboundStream;
    const call = this.clientFor(p).makeClientStreamRequest<Buffer, StreamSummaryObject>(
      RAFT_PEER_STREAM_PATH,
      (frame: Buffer) => frame,
      decodeStreamSummary,
      tokenMetadata(this.options.token),
      {},
      (err) => {
        this.onStreamEnd(p, s, err);
        resolveDone();
      },
    );
    s = {
      call,
      accepted: false,
      ended: false,
      closing: false,
      snapshotInFlight: false,
      waiters: new Set(),
      connectTimer: null,
      done,
    };
    s.connectTimer = setTimeout(() => {
      s.connectTimer = null;
      if (!s.accepted && !s.ended) {
        this.log.debug({ peer: p.id, address: p.address }, "peer did not accept the stream in time");
        call.cancel();
      }
    }, this.connectTimeoutMs);
    s.connectTimer.unref();
    call.on("metadata", () => {
      s.accepted = true;
      if (s.connectTimer) clearTimeout(s.connectTimer);
      s.connectTimer = null;
      if (p.failures > 0) this.log.info({ peer: p.id, address: p.address }, "Raft peer reachable again");
      p.failures = 0;
      p.backoffMs = this.backoffInitialMs;
    });
    // Errors are reported through the callback; a listener keeps a stray 'error' harmless.
    call.on("error", () => {});
    p.stream = s;
    return s;
  }

  private onStreamEnd(p: PeerState, s: OutboundStream, err: grpc.ServiceError | null): void {
    s.ended = true;
    if (s.connectTimer) clearTimeout(s.connectTimer);
    s.connectTimer = null;
    for (const wake of [...s.waiters]) wake();
    if (p.stream === s) p.stream = null;
    if (s.closing || p.removed || this.closed) return;

    // Our streams never end by design, so even a clean end is a failure to recover from.
    const jittered = p.backoffMs * (0.5 + Math.random() * 0.5);
    p.retryAt = performance.now() + jittered;
    p.backoffMs = Math.min(p.backoffMs * 2, this.backoffMaxMs);
    p.failures++;
    const fields = {
      peer: p.id,
      address: p.address,
      code: err ? grpc.status[err.code] : "OK",
      details: err?.details,
      retryInMs: Math.round(jittered),
    };
    const refused =
      err?.code === grpc.status.UNAUTHENTICATED ||
      err?.code === grpc.status.INVALID_ARGUMENT ||
      err?.code === grpc.status.FAILED_PRECONDITION;
    // A dead peer fails every couple of seconds: log the first failure in a row and then
    // one in 30 (about a minute at the longest backoff) loudly, the rest at debug.
    const loud = p.failures === 1 || p.failures % 30 === 0;
    if (!loud) this.log.debug(fields, "Raft peer still unreachable");
    else if (refused) this.log.error(fields, "Raft peer refused our stream");
    else this.log.warn(fields, "Raft peer unreachable");

    this.options.events.onUnreachable(p.id);
    if (s.snapshotInFlight) {
      s.snapshotInFlight = false;
      this.options.events.onSnapshotStatus(p.id, false);
    }
  }
}
