/**
 * The elector node's ReadIndex waiters: each `linearizableBarrier` asks Raft for a read index
 * under a fresh context, waits for the ReadState naming it, then for the state machine to have
 * applied that index. Contexts not yet confirmed when the leader changes are asked of the new
 * leader (the old one will never answer), so a client's read survives a failover.
 */
import type { ReadState } from "../../raft/index.ts";
import { NodeStoppedError, RequestTimeoutError } from "./node-errors.ts";

interface ReadWaiter {
  index: number | null;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** Read barriers in flight on one elector node. */
export class ReadBarriers {
  private readonly reads = new Map<string, ReadWaiter>();
  private seq = 0;

  /**
   * @param id this node's id (the contexts' prefix)
   * @param readIndex ask Raft for a read index under `ctx` (throws when no leader is known)
   */
  constructor(
    private readonly id: string,
    private readonly readIndex: (ctx: string) => void,
  ) {}

  /** Wait for a read index, then for `applied` to reach it; rejects after `timeoutMs`. */
  wait(timeoutMs: number): Promise<void> {
    const ctx = this.nextContext();
    this.readIndex(ctx);
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(ctx);
        reject(new RequestTimeoutError(`the leader did not confirm a read within ${timeoutMs} ms`));
      }, timeoutMs);
      this.reads.set(ctx, { index: null, resolve, reject, timer });
    });
  }

  /** A ReadState arrived; resolve what `applied` already covers. */
  confirmed(rs: ReadState, applied: number): void {
    const r = this.reads.get(rs.context);
    if (!r) return;
    r.index = rs.index;
    this.release(applied);
  }

  /** Resolve every confirmed read whose index `applied` has reached. */
  release(applied: number): void {
    for (const [ctx, r] of this.reads) {
      if (r.index !== null && r.index <= applied) {
        this.reads.delete(ctx);
        clearTimeout(r.timer);
        r.resolve();
      }
    }
  }

  /** The leader changed: ask the new one for every read not yet confirmed, under new contexts. */
  reissue(): void {
    for (const [ctx, r] of [...this.reads]) {
      if (r.index !== null) continue;
      const next = this.nextContext();
      try {
        this.readIndex(next);
      } catch {
        continue; // no leader yet: the next leader change tries again
      }
      this.reads.delete(ctx);
      this.reads.set(next, r);
    }
  }

  /** The node stops: reject every read. */
  stop(): void {
    for (const r of this.reads.values()) {
      clearTimeout(r.timer);
      r.reject(new NodeStoppedError());
    }
    this.reads.clear();
  }

  private nextContext(): string {
    return `${this.id}-${++this.seq}`;
  }
}
