/**
 * The receive state machine of ONE peer stream: frames in, validated messages out. It
 * decodes each frame, checks the cluster name and {@link validateMessage}, pins the stream
 * to its first sender, and reassembles snapshot data from its chunks.
 *
 * Invariants: a message is handed out only once it is whole and valid (a `snap` with all of
 * its data); any violation throws, and the caller must then end the stream, since nothing
 * after a bad frame can be trusted to line up.
 */
import type { Message, NodeId } from "../../raft/index.ts";
import { decodeMessage } from "./raft-codec.ts";
import { decodeFrame, type RaftMessageObject } from "./raft-wire.ts";
import {
  BadPeerMessageError,
  type PeerMessageLimits,
  snapshotTooLarge,
  validateMessage,
} from "./validate-message.ts";

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

/** A snapshot being reassembled on a stream. */
interface Assembly {
  /** The `snap` message, already validated with empty data. */
  readonly message: Message;
  /** The size the snap message announced. */
  readonly size: number;
  /** The buffer so far: at least `received` long, at most `size`. */
  data: Uint8Array;
  received: number;
}

/** Per-stream receive state machine: frames in, validated messages out. */
export class InboundStream {
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
    if (size > this.limits.maxSnapshotBytes) throw snapshotTooLarge(size, this.limits);
    const first = Math.min(size, this.limits.snapshotPreallocBytes);
    this.assembly = { message: m, size, data: new Uint8Array(first), received: 0 };
    return null;
  }

  /** Chunks must arrive in order, fill exactly the announced size, and flag the last one. */
  private acceptChunk(offset: number, data: Uint8Array, last: boolean): Message | null {
    const a = this.assembly;
    if (!a)
      throw new BadPeerMessageError("frame", "frames out of order: a snapshot chunk without a snap message");
    if (offset !== a.received) {
      throw new BadPeerMessageError("chunk.offset", `expected ${a.received}, got ${String(offset)}`);
    }
    if (!(data instanceof Uint8Array) || data.length > a.size - a.received) {
      throw new BadPeerMessageError("chunk.data", "more data than the snapshot announced");
    }
    const need = a.received + data.length;
    if (need > a.data.length) {
      // Grow by doubling (amortized copies), never past the announced size.
      const grown = new Uint8Array(Math.min(a.size, Math.max(need, a.data.length * 2)));
      grown.set(a.data.subarray(0, a.received));
      a.data = grown;
    }
    a.data.set(data, a.received);
    a.received = need;
    const complete = a.received === a.size;
    if (last !== complete) {
      throw new BadPeerMessageError(
        "chunk.last",
        last ? `last chunk at ${a.received} of ${a.size} bytes` : "data complete but chunk not flagged last",
      );
    }
    if (!last) return null;
    return this.complete(a);
  }

  private complete(a: Assembly): Message {
    this.assembly = null;
    const snap = a.message.snapshot!;
    return { ...a.message, snapshot: { meta: snap.meta, data: a.data } };
  }
}
