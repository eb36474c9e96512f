/**
 * The wire form of Raft peer messages (proto/raft.proto, loaded at runtime with protobufjs)
 * and the gate every received message passes before it may reach `RawNode.step()`.
 *
 * Invariants:
 * - Every uint64 is decoded as a JavaScript number. Indexes and terms stay far below 2^53;
 *   a value that is not a safe integer is refused, never rounded.
 * - Decoded byte fields are copied into plain `Uint8Array`s, so a retained entry never
 *   pins a whole received frame in memory and compares equal to what was sent.
 * - {@link validateMessage} accepts only what a correct peer could have sent; a message that
 *   fails it is never delivered (garbage must not reach the consensus core).
 */
import type protobuf from "protobufjs";
import type {
  ConfState,
  Entry,
  EntryType,
  Message,
  MessageType,
  NodeId,
  Snapshot,
} from "../../raft/index.ts";
import { loadProto, TO_OBJECT_OPTIONS } from "../rpc/proto-files.ts";

/** A received message is malformed; `field` names the offending field (e.g. `entries[2].index`). */
export class BadPeerMessageError extends Error {
  override readonly name = "BadPeerMessageError";
  /** The offending field, in raft Message terms (`entries[1].term`), or `frame` for undecodable bytes. */
  readonly field: string;
  /** What is wrong with it. */
  readonly problem: string;

  constructor(field: string, problem: string) {
    super(`bad peer message: ${field}: ${problem}`);
    this.field = field;
    this.problem = problem;
  }
}

/** proto/raft.proto could not be found or parsed (a broken install, not a peer's fault). */
export class RaftProtoLoadError extends Error {
  override readonly name = "RaftProtoLoadError";
}

/** Limits a received message must respect, beyond gRPC's own per-frame limit. */
export interface PeerMessageLimits {
  /** Longest node name (from, to, conf members), in UTF-8 bytes. */
  readonly maxIdBytes: number;
  /** Longest `context`, in UTF-8 bytes. */
  readonly maxContextBytes: number;
  /**
   * Largest data of one entry. Must be at least what a leader accepts in a proposal, or a
   * follower would refuse that entry forever; the default equals the default frame size.
   */
  readonly maxEntryBytes: number;
  /** Largest snapshot data a receiver assembles (it is held in memory whole). */
  readonly maxSnapshotBytes: number;
}

/** Default {@link PeerMessageLimits}. */
export const DEFAULT_PEER_MESSAGE_LIMITS: PeerMessageLimits = Object.freeze({
  maxIdBytes: 256,
  maxContextBytes: 64 * 1024,
  maxEntryBytes: 4 * 1024 * 1024,
  maxSnapshotBytes: 512 * 1024 * 1024,
});

/** Wire form of an entry, as protobufjs `toObject` yields it (camelCase fields). */
export interface EntryObject {
  term: number;
  index: number;
  /** Enum name (`ENTRY_NORMAL`) when decoded; enum number when built for encoding. */
  type: string | number;
  data: Uint8Array;
}

/** Wire form of snapshot metadata. `dataSize` is the length of the data sent as chunks. */
export interface SnapshotMetaObject {
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
export interface SnapshotChunkObject {
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
export interface RaftProtoTypes {
  readonly root: protobuf.Root;
  readonly PeerFrame: protobuf.Type;
  readonly RaftMessage: protobuf.Type;
  readonly StreamSummary: protobuf.Type;
}

/** gRPC method path of `RaftPeer.Stream`. */
export const RAFT_PEER_STREAM_PATH = "/conclave.raft.RaftPeer/Stream";

let proto: RaftProtoTypes | undefined;

/**
 * The parsed proto/raft.proto, loaded once (see {@link loadProto}).
 * @throws RaftProtoLoadError when the file is missing or does not parse
 */
export function raftProto(): RaftProtoTypes {
  if (proto) return proto;
  try {
    const root = loadProto("raft");
    proto = {
      root,
      PeerFrame: root.lookupType("conclave.raft.PeerFrame"),
      RaftMessage: root.lookupType("conclave.raft.RaftMessage"),
      StreamSummary: root.lookupType("conclave.raft.StreamSummary"),
    };
    return proto;
  } catch (err) {
    throw new RaftProtoLoadError((err as Error).message);
  }
}

const MESSAGE_TYPES: readonly MessageType[] = [
  "app",
  "app-resp",
  "vote",
  "vote-resp",
  "prevote",
  "prevote-resp",
  "heartbeat",
  "heartbeat-resp",
  "snap",
  "timeout-now",
  "read-index",
  "read-index-resp",
];

/** raft MessageType -> proto enum name, e.g. `app-resp` -> `MSG_APP_RESP`. */
const TYPE_TO_WIRE = new Map<MessageType, string>(
  MESSAGE_TYPES.map((t) => [t, `MSG_${t.toUpperCase().replaceAll("-", "_")}`]),
);
const WIRE_TO_TYPE = new Map<string, MessageType>(MESSAGE_TYPES.map((t) => [TYPE_TO_WIRE.get(t)!, t]));
/** Enum numbers follow the order of MESSAGE_TYPES, starting at 1 (0 is MSG_UNSPECIFIED). */
const TYPE_TO_NUMBER = new Map<MessageType, number>(MESSAGE_TYPES.map((t, i) => [t, i + 1]));
const MESSAGE_TYPE_SET: ReadonlySet<string> = new Set(MESSAGE_TYPES);

const ENTRY_TYPE_TO_NUMBER: Readonly<Record<EntryType, number>> = { normal: 0, conf: 1 };
const WIRE_TO_ENTRY_TYPE = new Map<string, EntryType>([
  ["ENTRY_NORMAL", "normal"],
  ["ENTRY_CONF", "conf"],
]);

/**
 * The wire object of a raft message, ready for `PeerFrame.encode({ message })`. A snapshot's
 * data is NOT included: only its metadata and size; the transport sends the data as chunks.
 * @param cluster the sender's cluster name, checked by the receiver
 */
export function encodeMessage(m: Message, cluster = ""): RaftMessageObject {
  const type = TYPE_TO_NUMBER.get(m.type);
  if (type === undefined) throw new BadPeerMessageError("type", `unknown message type ${String(m.type)}`);
  const snap = m.snapshot;
  return {
    type,
    from: m.from,
    to: m.to,
    term: m.term,
    logTerm: m.logTerm,
    index: m.index,
    entries: m.entries.map((e) => ({
      term: e.term,
      index: e.index,
      type: ENTRY_TYPE_TO_NUMBER[e.type],
      data: e.data,
    })),
    commit: m.commit,
    reject: m.reject,
    rejectHint: m.rejectHint,
    context: m.context,
    snapshotMeta: snap
      ? {
          index: snap.meta.index,
          term: snap.meta.term,
          conf: { voters: [...snap.meta.conf.voters], learners: [...snap.meta.conf.learners] },
          dataSize: snap.data.length,
        }
      : null,
    cluster,
  };
}

/** A private copy of decoded bytes (see the module invariants). */
function copyBytes(value: unknown, field: string): Uint8Array {
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (Array.isArray(value) && value.length === 0) return new Uint8Array();
  throw new BadPeerMessageError(field, "not bytes");
}

/**
 * The raft message carried by a decoded wire object. For a `snap` message, `snapshotData`
 * is the reassembled data (empty when omitted). Only the shape is converted here; call
 * {@link validateMessage} before delivering the result.
 * @throws BadPeerMessageError for an unknown message or entry type, or a snap without metadata
 */
export function decodeMessage(obj: RaftMessageObject, snapshotData?: Uint8Array): Message {
  const type = typeof obj.type === "string" ? WIRE_TO_TYPE.get(obj.type) : undefined;
  if (type === undefined) throw new BadPeerMessageError("type", `unknown message type ${String(obj.type)}`);
  const entries: Entry[] = [];
  const wireEntries: unknown = obj.entries;
  if (!Array.isArray(wireEntries)) throw new BadPeerMessageError("entries", "not a list");
  for (let i = 0; i < wireEntries.length; i++) {
    const e = wireEntries[i] as EntryObject;
    const et = typeof e.type === "string" ? WIRE_TO_ENTRY_TYPE.get(e.type) : undefined;
    if (et === undefined)
      throw new BadPeerMessageError(`entries[${i}].type`, `unknown entry type ${String(e.type)}`);
    entries.push({ term: e.term, index: e.index, type: et, data: copyBytes(e.data, `entries[${i}].data`) });
  }
  let snapshot: Snapshot | undefined;
  if (type === "snap") {
    const meta = obj.snapshotMeta;
    if (!meta) throw new BadPeerMessageError("snapshot", "a snap message without snapshot metadata");
    const conf: ConfState = { voters: meta.conf?.voters ?? [], learners: meta.conf?.learners ?? [] };
    snapshot = { meta: { index: meta.index, term: meta.term, conf }, data: snapshotData ?? new Uint8Array() };
  }
  const m: Message = {
    type,
    from: obj.from,
    to: obj.to,
    term: obj.term,
    logTerm: obj.logTerm,
    index: obj.index,
    entries,
    commit: obj.commit,
    reject: obj.reject,
    rejectHint: obj.rejectHint,
    context: obj.context,
  };
  return snapshot ? { ...m, snapshot } : m;
}

/** Encode one frame for the wire. */
export function encodeFrame(frame: PeerFrameObject): Buffer {
  const bytes = raftProto().PeerFrame.encode(frame).finish();
  // protobufjs returns a Buffer on Node; grpc-js requires one.
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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

function isSafeCount(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
}

function checkCount(n: unknown, field: string): number {
  if (!isSafeCount(n))
    throw new BadPeerMessageError(field, `${String(n)} is not a non-negative safe integer`);
  return n;
}

function checkName(s: unknown, field: string, limits: PeerMessageLimits): string {
  if (typeof s !== "string" || s.length === 0) throw new BadPeerMessageError(field, "empty");
  if (Buffer.byteLength(s) > limits.maxIdBytes) {
    throw new BadPeerMessageError(field, `longer than ${limits.maxIdBytes} bytes`);
  }
  return s;
}

function checkNames(list: unknown, field: string, limits: PeerMessageLimits): readonly string[] {
  if (!Array.isArray(list)) throw new BadPeerMessageError(field, "not a list");
  list.forEach((s, i) => {
    checkName(s, `${field}[${i}]`, limits);
  });
  if (new Set(list).size !== list.length) throw new BadPeerMessageError(field, "duplicate names");
  return list as string[];
}

/**
 * Check that a decoded message is one a correct peer could have sent to `expectedTo`.
 * Checks: a known type; non-empty `from` and `to`, `to` is this node, `from` is not;
 * every number a non-negative safe integer; only `app` carries entries, whose indexes are
 * consecutive from `index + 1`, whose terms do not decrease and do not exceed the message
 * term, and whose data fits the limit; `snap` (and only `snap`) carries a snapshot whose
 * term does not exceed the message term, with a disjoint configuration.
 * @throws BadPeerMessageError naming the first offending field
 */
export function validateMessage(
  m: Message,
  expectedTo: NodeId,
  limits: PeerMessageLimits = DEFAULT_PEER_MESSAGE_LIMITS,
): void {
  if (typeof m !== "object" || m === null) throw new BadPeerMessageError("message", "not an object");
  if (typeof m.type !== "string" || !MESSAGE_TYPE_SET.has(m.type)) {
    throw new BadPeerMessageError("type", `unknown message type ${String(m.type)}`);
  }
  const from = checkName(m.from, "from", limits);
  const to = checkName(m.to, "to", limits);
  if (to !== expectedTo)
    throw new BadPeerMessageError("to", `addressed to ${to}, but this node is ${expectedTo}`);
  if (from === to) throw new BadPeerMessageError("from", "a peer message from this node itself");
  const term = checkCount(m.term, "term");
  checkCount(m.logTerm, "logTerm");
  const index = checkCount(m.index, "index");
  checkCount(m.commit, "commit");
  checkCount(m.rejectHint, "rejectHint");
  if (typeof m.reject !== "boolean") throw new BadPeerMessageError("reject", "not a boolean");
  if (typeof m.context !== "string") throw new BadPeerMessageError("context", "not a string");
  if (Buffer.byteLength(m.context) > limits.maxContextBytes) {
    throw new BadPeerMessageError("context", `longer than ${limits.maxContextBytes} bytes`);
  }

  if (!Array.isArray(m.entries)) throw new BadPeerMessageError("entries", "not a list");
  if (m.entries.length > 0 && m.type !== "app") {
    throw new BadPeerMessageError("entries", `a ${m.type} message carries no entries`);
  }
  let prevTerm = 0;
  m.entries.forEach((e: Entry, i) => {
    const f = `entries[${i}]`;
    if (typeof e !== "object" || e === null) throw new BadPeerMessageError(f, "not an object");
    const et = checkCount(e.term, `${f}.term`);
    const ei = checkCount(e.index, `${f}.index`);
    if (ei !== index + 1 + i) {
      throw new BadPeerMessageError(
        `${f}.index`,
        `expected ${index + 1 + i} (consecutive from index+1), got ${ei}`,
      );
    }
    if (et > term)
      throw new BadPeerMessageError(`${f}.term`, `entry term ${et} exceeds message term ${term}`);
    if (et < prevTerm)
      throw new BadPeerMessageError(`${f}.term`, `entry term ${et} is below the previous ${prevTerm}`);
    prevTerm = et;
    if (e.type !== "normal" && e.type !== "conf") {
      throw new BadPeerMessageError(`${f}.type`, `unknown entry type ${String(e.type)}`);
    }
    if (!(e.data instanceof Uint8Array)) throw new BadPeerMessageError(`${f}.data`, "not bytes");
    if (e.data.length > limits.maxEntryBytes) {
      throw new BadPeerMessageError(`${f}.data`, `${e.data.length} bytes exceeds ${limits.maxEntryBytes}`);
    }
  });

  const snap = m.snapshot;
  if (m.type !== "snap") {
    if (snap !== undefined)
      throw new BadPeerMessageError("snapshot", `a ${m.type} message carries no snapshot`);
    return;
  }
  if (typeof snap !== "object" || snap === null) throw new BadPeerMessageError("snapshot", "missing");
  if (typeof snap.meta !== "object" || snap.meta === null)
    throw new BadPeerMessageError("snapshot.meta", "missing");
  checkCount(snap.meta.index, "snapshot.meta.index");
  const st = checkCount(snap.meta.term, "snapshot.meta.term");
  if (st > term)
    throw new BadPeerMessageError("snapshot.meta.term", `snapshot term ${st} exceeds message term ${term}`);
  const conf = snap.meta.conf;
  if (typeof conf !== "object" || conf === null)
    throw new BadPeerMessageError("snapshot.meta.conf", "missing");
  const voters = checkNames(conf.voters, "snapshot.meta.conf.voters", limits);
  const learners = checkNames(conf.learners, "snapshot.meta.conf.learners", limits);
  const voterSet = new Set(voters);
  const both = learners.find((l) => voterSet.has(l));
  if (both !== undefined)
    throw new BadPeerMessageError("snapshot.meta.conf.learners", `${both} is also a voter`);
  if (!(snap.data instanceof Uint8Array)) throw new BadPeerMessageError("snapshot.data", "not bytes");
  if (snap.data.length > limits.maxSnapshotBytes) {
    throw new BadPeerMessageError(
      "snapshot.data",
      `${snap.data.length} bytes exceeds ${limits.maxSnapshotBytes}`,
    );
  }
}

/** Encode a stream summary (the response of `RaftPeer.Stream`). */
export function encodeStreamSummary(s: StreamSummaryObject): Buffer {
  const bytes = raftProto().StreamSummary.encode(s).finish();
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
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
