/**
 * Named errors of the Raft core. Expected refusals that callers branch on carry the data
 * they need (for example the known leader), so a runtime can redirect a client.
 */
import type { NodeId } from "./types.ts";

/** A proposal or read was made on a node that is not the leader. */
export class NotLeaderError extends Error {
  override readonly name = "NotLeaderError";
  /** The leader this node knows of, or null when it knows none. */
  readonly leader: NodeId | null;

  constructor(leader: NodeId | null) {
    super(
      leader === null ? "not the leader, and no leader is known" : `not the leader; the leader is ${leader}`,
    );
    this.leader = leader;
  }
}

/** The leader is handing leadership to another node and accepts no proposals meanwhile. */
export class LeaderTransferringError extends Error {
  override readonly name = "LeaderTransferringError";
  constructor(readonly transferee: NodeId) {
    super(`leadership is being transferred to ${transferee}`);
  }
}

/** A membership change was refused; `reason` says why (one pending at a time, unknown node, ...). */
export class ConfChangeRefusedError extends Error {
  override readonly name = "ConfChangeRefusedError";
  constructor(readonly reason: string) {
    super(`membership change refused: ${reason}`);
  }
}

/** The requested index is older than the first index still in the log (it was compacted). */
export class CompactedError extends Error {
  override readonly name = "CompactedError";
  constructor(readonly index: number) {
    super(`log index ${index} is compacted`);
  }
}

/** The requested index is beyond the last index in storage. */
export class UnavailableError extends Error {
  override readonly name = "UnavailableError";
  constructor(readonly index: number) {
    super(`log index ${index} is not available`);
  }
}

/** A snapshot is older than what storage already holds. */
export class SnapshotOutOfDateError extends Error {
  override readonly name = "SnapshotOutOfDateError";
  constructor(readonly index: number) {
    super(`snapshot at index ${index} is out of date`);
  }
}

/** The caller broke the RawNode contract (for example, stepping a message addressed elsewhere). */
export class RaftUsageError extends Error {
  override readonly name = "RaftUsageError";
}
