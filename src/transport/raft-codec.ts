/**
 * Raft messages to and from their wire objects (proto `RaftMessage`, see raft-wire.ts).
 * Only the shape is converted here; what a received message may contain is checked by
 * validate-message.ts before it is delivered.
 *
 * Invariants:
 * - A snapshot's data never travels inside its message: the message carries the metadata
 *   and the data size, and the transport sends the data as chunks.
 * - Decoded byte fields are copied into plain `Uint8Array`s, so a retained entry never
 *   pins a whole received frame in memory and compares equal to what was sent.
 */
import type { ConfState, Entry, EntryType, Message, MessageType, Snapshot } from "../../raft/index.ts";
import type { EntryObject, RaftMessageObject } from "./raft-wire.ts";
import { BadPeerMessageError, MESSAGE_TYPES } from "./validate-message.ts";

/** raft MessageType -> proto enum name, e.g. `app-resp` -> `MSG_APP_RESP`. */
const TYPE_TO_WIRE = new Map<MessageType, string>(
  MESSAGE_TYPES.map((t) => [t, `MSG_${t.toUpperCase().replaceAll("-", "_")}`]),
);
const WIRE_TO_TYPE = new Map<string, MessageType>(MESSAGE_TYPES.map((t) => [TYPE_TO_WIRE.get(t)!, t]));
/** Enum numbers follow the order of MESSAGE_TYPES, starting at 1 (0 is MSG_UNSPECIFIED). */
const TYPE_TO_NUMBER = new Map<MessageType, number>(MESSAGE_TYPES.map((t, i) => [t, i + 1]));

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
 * `validateMessage` (validate-message.ts) before delivering the result.
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
