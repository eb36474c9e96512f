/**
 * The leader's view of one peer's log (as in etcd-io/raft's tracker).
 *
 * - probe: we do not know where the follower's log matches; send one message per
 *   heartbeat interval and wait for the answer.
 * - replicate: the follower is keeping up; stream entries optimistically, bounded by
 *   {@link Inflights}.
 * - snapshot: the follower needs a snapshot; send nothing else until it is reported done.
 *
 * Invariant: match < next.
 */
import { Inflights } from "./inflights.ts";

/** The replication state of one peer. */
export type ProgressState = "probe" | "replicate" | "snapshot";

/** The leader's view of one peer. */
export class Progress {
  match = 0;
  next: number;
  state: ProgressState = "probe";
  /** In probe state: a message was sent this heartbeat interval; wait before sending another. */
  probeSent = false;
  /** The snapshot index being sent while in snapshot state. */
  pendingSnapshot = 0;
  /** The peer sent us something since the last check-quorum round. */
  recentActive = false;
  readonly inflights: Inflights;
  readonly isLearner: boolean;

  constructor(options: { next: number; isLearner: boolean; maxInflight: number; maxInflightBytes: number }) {
    this.next = options.next;
    this.isLearner = options.isLearner;
    this.inflights = new Inflights(options.maxInflight, options.maxInflightBytes);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === "snapshot") {
      const pending = this.pendingSnapshot;
      this.resetState("probe");
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState("probe");
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState("replicate");
    this.next = this.match + 1;
  }

  becomeSnapshot(index: number): void {
    this.resetState("snapshot");
    this.pendingSnapshot = index;
  }

  /** A follower acknowledged entries up to `n`. Returns false when the ack is stale. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** An append was sent ending at `last` (`bytes` big). */
  sentEntries(last: number, count: number, bytes: number): void {
    if (this.state === "replicate") {
      if (count > 0) {
        this.next = last + 1;
        this.inflights.add(last, bytes);
      }
    } else if (this.state === "probe") {
      this.probeSent = true;
    }
  }

  /**
   * A follower rejected the append at `rejected`; it suggests probing from `matchHint`.
   * Returns false when the rejection is stale (out of order).
   */
  maybeDecrTo(rejected: number, matchHint: number): boolean {
    if (this.state === "replicate") {
      // Only the rejection of the entry right after match is meaningful when replicating.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    // Never below match + 1: a stale duplicate rejection must not resend acknowledged entries.
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Whether sending is paused for this peer (waiting for a probe answer, window full, or snapshot). */
  isPaused(): boolean {
    switch (this.state) {
      case "probe":
        return this.probeSent;
      case "replicate":
        return this.inflights.full();
      case "snapshot":
        return true;
    }
  }
}
