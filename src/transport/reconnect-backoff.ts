/**
 * When the gRPC peer transport may open a new stream to a peer whose last one failed: a
 * delay that doubles from `initialMs` to `maxMs` with each failure in a row, jittered to
 * 50-100% so a cluster's nodes do not reconnect in lockstep, and reset by a stream the
 * receiver accepts. It also throttles the failure logs of a peer that stays down.
 */

/** Reconnect backoff of one peer. */
export class ReconnectBackoff {
  /** The un-jittered delay the next failure will wait. */
  private delayMs: number;
  /** No new stream before this time (performance.now()). */
  private retryAt = 0;
  /** Consecutive failed streams. */
  private failuresInARow = 0;

  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
  ) {
    this.delayMs = initialMs;
  }

  /** Whether a new stream must still wait at `now` (performance.now()). */
  waiting(now: number): boolean {
    return now < this.retryAt;
  }

  /** A stream failed: no new one for a jittered delay, returned in ms; the next delay doubles. */
  failed(): number {
    const jittered = this.delayMs * (0.5 + Math.random() * 0.5);
    this.retryAt = performance.now() + jittered;
    this.delayMs = Math.min(this.delayMs * 2, this.maxMs);
    this.failuresInARow++;
    return jittered;
  }

  /** The receiver accepted a stream: back to the initial delay. Returns whether it had been failing. */
  succeeded(): boolean {
    const wasFailing = this.failuresInARow > 0;
    this.failuresInARow = 0;
    this.delayMs = this.initialMs;
    return wasFailing;
  }

  /**
   * Whether the latest failure deserves a loud log line. A dead peer fails every couple of
   * seconds: the first failure in a row is loud, then one in 30 (about a minute at the
   * longest backoff), the rest quiet.
   */
  get loud(): boolean {
    return this.failuresInARow === 1 || this.failuresInARow % 30 === 0;
  }
}
