/**
 * The wire of the `RaftPeer` service (proto/raft.proto, loaded at run time with protobufjs):
 * the shapes of its frames, their encoding, and the grpc-js service definition both sides
 * take from here, so the sender and the receiver cannot disagree on the path or the codec.
 *
 * A peer stream carries `PeerFrame`s, each either one Raft message or one chunk of a
 * snapshot's data; the receiver answers once, when the stream ends, with a `StreamSummary`.
 * Every uint64 is decoded as a JavaScript number (see raft-codec.ts for the checks).
 */
import type * as grpc from "@grpc/grpc-js";
import type protobuf from "protobufjs";
import { loadProto, TO_OBJECT_OPTIONS } from "../rpc/proto-files.ts";
import { BadPeerMessageError } from "./validate-message.ts";

/** Wire form of an entry, as protobufjs `toObject` yields it (camelCase fields). */
export interface EntryObject {
  term: number;
  index: number;
  /** Enum name (`ENTRY_NORMAL`) when decoded; enum number when built for encoding. */
  type: string | number;
  data: Uint8Array;
}

/** Wire form of snapshot metadata. `dataSize` is the length of the data sent as chunks. */
interface SnapshotMetaObject {
  index: number;
  term: number;
  conf: { voters: string[]; learners: string[] } | null;
  dataSize: number;
}

/** Wire form of a Raft message (proto `RaftMessage`). */
export interface RaftMessageObject {
  /** Enum name (`MSG_APP`) when decoded, enum number when built for encoding. */
  type: string | number;
  from: string;
  to: string;
  term: number;
  logTerm: number;
  index: number;
  entries: EntryObject[];
  commit: number;
  reject: boolean;
  rejectHint: number;
  context: string;
  snapshotMeta: SnapshotMetaObject | null;
  cluster: string;
}

/** Wire form of a snapshot data chunk (proto `SnapshotChunk`). */
interface SnapshotChunkObject {
  offset: number;
  data: Uint8Array;
  last: boolean;
}

/** One frame on a peer stream: exactly one of `message` and `chunk`. */
export type PeerFrameObject =
  | { readonly message: RaftMessageObject; readonly chunk?: undefined }
  | { readonly chunk: SnapshotChunkObject; readonly message?: undefined };

/** Wire form of proto `StreamSummary`. */
export interface StreamSummaryObject {
  delivered: number;
}

/** The protobufjs types of proto/raft.proto. */
interface RaftProtoTypes {
  readonly PeerFrame: protobuf.Type;
  readonly StreamSummary: protobuf.Type;
}

let proto: RaftProtoTypes | undefined;

/**
 * The types of proto/raft.proto, looked up once (the file is parsed by {@link loadProto}).
 * @throws ProtoLoadError when the file is missing or does not parse (a broken install, not a
 *   peer's fault)
 */
function raftProto(): RaftProtoTypes {
  if (proto) return proto;
  const root = loadProto("raft");
  proto = {
    PeerFrame: root.lookupType("conclave.raft.PeerFrame"),
    StreamSummary: root.lookupType("conclave.raft.StreamSummary"),
  };
  return proto;
}

/** protobufjs returns a Buffer on Node; grpc-js requires one. */
function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Encode one frame for the wire. */
export function encodeFrame(frame: PeerFrameObject): Buffer {
  return asBuffer(raftProto().PeerFrame.encode(frame).finish());
}

/**
 * Decode one frame received from the wire.
 * @throws BadPeerMessageError (field `frame`) when the bytes are not a PeerFrame
 */
export function decodeFrame(bytes: Uint8Array): PeerFrameObject {
  const { PeerFrame } = raftProto();
  let obj: Record<string, unknown>;
  try {
    obj = PeerFrame.toObject(PeerFrame.decode(bytes), TO_OBJECT_OPTIONS);
  } catch (err) {
    throw new BadPeerMessageError("frame", `undecodable: ${(err as Error).message}`);
  }
  if (obj.frame === "message") return { message: obj.message as RaftMessageObject };
  if (obj.frame === "chunk") return { chunk: obj.chunk as SnapshotChunkObject };
  throw new BadPeerMessageError("frame", "neither a message nor a snapshot chunk");
}

/** Encode a stream summary (the response of `RaftPeer.Stream`). */
function encodeStreamSummary(s: StreamSummaryObject): Buffer {
  return asBuffer(raftProto().StreamSummary.encode(s).finish());
}

/** Decode a stream summary; an undecodable one reads as `{ delivered: 0 }` (it is informational). */
export function decodeStreamSummary(bytes: Uint8Array): StreamSummaryObject {
  try {
    const { StreamSummary } = raftProto();
    const o = StreamSummary.toObject(StreamSummary.decode(bytes), TO_OBJECT_OPTIONS);
    return { delivered: typeof o.delivered === "number" ? o.delivered : 0 };
  } catch {
    return { delivered: 0 };
  }
}

/** gRPC method path of `RaftPeer.Stream`. */
export const RAFT_PEER_STREAM_PATH = "/conclave.raft.RaftPeer/Stream";

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
