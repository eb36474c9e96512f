/**
 * What an elector knows of its peers' liveness, for the status' `reachable`
 * (control/control-node.ts): when a Raft message from each peer last arrived and since when
 * this node leads, on its monotonic clock. The elector node records; readers get durations.
 */
import type { NodeId } from "../../raft/index.ts";

/** Durations on the elector's monotonic clock, so the reader needs no clock of its own. */
export interface PeerContact {
  /** Milliseconds since a message from each peer last arrived; a peer never heard from is absent. */
  readonly sinceHeardMs: ReadonlyMap<NodeId, number>;
  /** Milliseconds since this node became the leader; null when it does not lead. */
  readonly leadingForMs: number | null;
  /** The election timeout in milliseconds. */
  readonly electionTimeoutMs: number;
}

/** The elector node's record of peer contact. */
export class PeerContactLog {
  /** When a message from each peer last arrived (the `now` clock). */
  private readonly heardAt = new Map<NodeId, number>();
  /** When this node last became the leader (the `now` clock); null while it does not lead. */
  private leadingSince: number | null = null;

  /**
   * @param now the elector's monotonic clock (ms)
   * @param electionTimeoutMs the election timeout, reported with each snapshot
   */
  constructor(
    private readonly now: () => number,
    private readonly electionTimeoutMs: number,
  ) {}

  /** A message from `peer` arrived now. */
  heard(peer: NodeId): void {
    this.heardAt.set(peer, this.now());
  }

  /** The known leader changed; `self` says whether it is this node. */
  leaderChanged(self: boolean): void {
    this.leadingSince = self ? this.now() : null;
  }

  /** The contact as durations; `leading` is whether Raft says this node leads right now. */
  snapshot(leading: boolean): PeerContact {
    const now = this.now();
    const sinceHeardMs = new Map<NodeId, number>();
    for (const [id, at] of this.heardAt) sinceHeardMs.set(id, now - at);
    return {
      sinceHeardMs,
      // Leading, but the Ready that says so not handled yet: it has just begun.
      leadingForMs: leading ? now - (this.leadingSince ?? now) : null,
      electionTimeoutMs: this.electionTimeoutMs,
    };
  }
}
