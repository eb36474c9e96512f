/**
 * Wire and storage types of the Raft core. Everything here is plain data so that the
 * runtime can encode it (protobuf, LevelDB) and the simulation can copy it freely.
 */

/** A node's identity: the elector name from the config (`web1`). */
export type NodeId = string;

/** Kinds of log entry. `conf` entries carry an encoded {@link ConfChange}. */
export type EntryType = "normal" | "conf";

/** One log entry. Invariant: within one log, `index` values are consecutive. */
export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** The voter and learner sets at some log position. Sorted, disjoint. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

/** What a snapshot covers: every entry up to and including `index`. */
export interface SnapshotMeta {
  readonly index: number;
  readonly term: number;
  /** The configuration in force at `index`. */
  readonly conf: ConfState;
}

/** An application snapshot: its metadata and opaque state-machine bytes. */
export interface Snapshot {
  readonly meta: SnapshotMeta;
  readonly data: Uint8Array;
}

/** The state that must be on stable storage before any message of the same Ready is sent. */
export interface HardState {
  readonly term: number;
  /** The candidate voted for in `term`, or "" for none. */
  readonly vote: NodeId;
  readonly commit: number;
}

/** A single-server membership change. One may be pending (appended, uncommitted) at a time. */
export type ConfChange =
  | { readonly type: "add-learner"; readonly node: NodeId; readonly context?: string }
  | { readonly type: "add-voter"; readonly node: NodeId; readonly context?: string }
  | { readonly type: "promote"; readonly node: NodeId; readonly context?: string }
  | { readonly type: "remove"; readonly node: NodeId; readonly context?: string };

/** The role a node plays in its current term. */
export type Role = "follower" | "pre-candidate" | "candidate" | "leader";

/** Message kinds exchanged between Raft peers. */
export type MessageType =
  | "app"
  | "app-resp"
  | "vote"
  | "vote-resp"
  | "prevote"
  | "prevote-resp"
  | "heartbeat"
  | "heartbeat-resp"
  | "snap"
  | "timeout-now"
  | "read-index"
  | "read-index-resp";

/**
 * A peer message. One shape for every type, as in etcd's raftpb.Message, so the transport
 * encodes one protobuf message; fields a type does not use are zero/empty.
 */
export interface Message {
  readonly type: MessageType;
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
  /** app: term of the entry at `index`. vote/prevote: candidate's last log term. */
  readonly logTerm: number;
  /** app: index preceding `entries`. app-resp: last matched (or rejected) index. vote: last index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** app-resp reject: follower's hint index; the leader probes from there. */
  readonly rejectHint: number;
  readonly snapshot?: Snapshot;
  /** heartbeat / read-index: the read request context, echoed in responses. vote: "transfer" when forced. */
  readonly context: string;
}

/** A linearizable read that may be served once the state machine has applied `index`. */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

/** Volatile state the application may want to observe (leader and role). */
export interface SoftState {
  readonly leader: NodeId | null;
  readonly role: Role;
}

/**
 * Work handed to the application by {@link RawNode.ready}. The application must, in order:
 * 1. persist `snapshot` (if any), then `entries`, then `hardState` (if any), durably and atomically;
 * 2. only then send `messages`;
 * 3. apply `committedEntries` (and restore `snapshot` into its state machine first);
 * 4. call `advance()`.
 */
export interface Ready {
  readonly softState?: SoftState;
  readonly hardState?: HardState;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot;
  readonly committedEntries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly readStates: readonly ReadState[];
}

/** Returns a message with every unused field zeroed. */
export function message(fields: Partial<Message> & Pick<Message, "type" | "from" | "to" | "term">): Message {
  return {
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: "",
    ...fields,
  };
}

/** An empty configuration (a node that has not yet learned its cluster). */
export const EMPTY_CONF: ConfState = { voters: [], learners: [] };

/** Size in bytes that an entry counts for in flow control (data plus a fixed header). */
export function entrySize(e: Entry): number {
  return e.data.length + 16;
}
