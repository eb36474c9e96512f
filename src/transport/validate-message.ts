/**
 * The gate every received Raft message passes before it may reach `RawNode.step()`: the
 * limits a message must respect beyond gRPC's frame size, the error naming the offending
 * field, and {@link validateMessage}.
 *
 * Invariant: {@link validateMessage} accepts only what a correct peer could have sent; a
 * message that fails it is never delivered (garbage must not reach the consensus core).
 * Every number must be a non-negative safe integer: a value beyond 2^53 is refused, never
 * rounded.
 */
import type { Entry, Message, MessageType, NodeId } from "../../raft/index.ts";
import { formatBytes, SNAPSHOT_MAX_BYTES, SNAPSHOT_PREALLOC_MAX_BYTES } from "../contract/limits.ts";

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
  /**
   * The most a stream allocates for a snapshot before its chunks arrive: the buffer grows
   * with the data received, so an announced size costs nothing until it is sent.
   */
  readonly snapshotPreallocBytes: number;
}

/** Default {@link PeerMessageLimits}. */
export const DEFAULT_PEER_MESSAGE_LIMITS: PeerMessageLimits = Object.freeze({
  maxIdBytes: 256,
  maxContextBytes: 64 * 1024,
  maxEntryBytes: 4 * 1024 * 1024,
  maxSnapshotBytes: SNAPSHOT_MAX_BYTES,
  snapshotPreallocBytes: SNAPSHOT_PREALLOC_MAX_BYTES,
});

/** The refusal of a snapshot of `size` bytes past the limit, naming it. */
export function snapshotTooLarge(size: number, limits: PeerMessageLimits): BadPeerMessageError {
  return new BadPeerMessageError(
    "snapshot.data",
    `${size} bytes exceeds the snapshot limit of ${formatBytes(limits.maxSnapshotBytes)} (SNAPSHOT_MAX_BYTES)`,
  );
}

/** Every raft message type, in the order of the proto enum (raft-codec.ts numbers them from it). */
export const MESSAGE_TYPES: readonly MessageType[] = [
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
const MESSAGE_TYPE_SET: ReadonlySet<string> = new Set(MESSAGE_TYPES);

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
  if (snap.data.length > limits.maxSnapshotBytes) throw snapshotTooLarge(snap.data.length, limits);
}
