/**
 * ReadIndex bookkeeping on the leader (Raft dissertation §6.4). A read is recorded with
 * the commit index at the time it arrived; it is released once a quorum has answered a
 * heartbeat that carried its context, which proves this node was still the leader then.
 * Requests are released in arrival order: a quorum ack for a later request confirms all
 * earlier ones too.
 */
import type { NodeId } from "./types.ts";

/** A read waiting for a quorum of heartbeat acknowledgements. */
export interface PendingRead {
  readonly index: number;
  readonly context: string;
  /** Who asked: this node, or the follower to answer with read-index-resp. */
  readonly from: NodeId;
  readonly acks: Set<NodeId>;
}

/** The queue of reads awaiting confirmation. */
export class ReadOnlyQueue {
  private queue: PendingRead[] = [];

  /** Add a read; a context already queued is ignored (the caller retried). */
  add(read: Omit<PendingRead, "acks">, self: NodeId): void {
    if (this.queue.some((r) => r.context === read.context)) return;
    this.queue.push({ ...read, acks: new Set([self]) });
  }

  /** Record `from`'s acknowledgement of `context`; returns the read's acks, or undefined if unknown. */
  ack(context: string, from: NodeId): ReadonlySet<NodeId> | undefined {
    const r = this.queue.find((x) => x.context === context);
    if (!r) return undefined;
    r.acks.add(from);
    return r.acks;
  }

  /** Remove and return every read up to and including the one with `context`. */
  releaseThrough(context: string): PendingRead[] {
    const i = this.queue.findIndex((x) => x.context === context);
    if (i < 0) return [];
    return this.queue.splice(0, i + 1);
  }

  /** The context of the newest pending read, if any (sent again with heartbeats). */
  lastContext(): string | undefined {
    return this.queue[this.queue.length - 1]?.context;
  }

  reset(): void {
    this.queue = [];
  }
}
