/**
 * A rate limit for refusal warnings: one line per key (an identity and a method, or a peer
 * address and a method) per interval, however often the call is refused, so that a
 * misconfigured or hostile peer retrying in a loop cannot flood the log. The line that is
 * logged says how many refusals were not logged since the last one.
 *
 * Memory stays bounded: once more than {@link MAX_KEYS} keys are held, keys whose interval has
 * passed are dropped (they would be logged anew anyway), and if none has, the oldest go.
 */

/** Default interval: one minute. */
export const REFUSAL_LOG_INTERVAL_MS = 60_000;

/** Keys held before the map is pruned. */
export const MAX_KEYS = 4096;

/** Options of {@link RefusalLog}. */
export interface RefusalLogOptions {
  /** One line per key per this many milliseconds; default {@link REFUSAL_LOG_INTERVAL_MS}. */
  readonly intervalMs?: number;
  /** Monotonic milliseconds; `performance.now()` by default (the seam for tests). */
  readonly now?: () => number;
}

/** Decides which refusals are logged. */
export class RefusalLog {
  private readonly intervalMs: number;
  private readonly now: () => number;
  /** Per key: when it was last logged, and refusals since then that were not. */
  private readonly keys = new Map<string, { at: number; suppressed: number }>();

  constructor(options: RefusalLogOptions = {}) {
    this.intervalMs = options.intervalMs ?? REFUSAL_LOG_INTERVAL_MS;
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * A refusal under `key` happened: the number of refusals under it that were not logged
   * since its last line (0 for the first) when this one is to be logged, null when not.
   */
  admit(key: string): number | null {
    const now = this.now();
    const seen = this.keys.get(key);
    if (seen !== undefined && now - seen.at < this.intervalMs) {
      seen.suppressed++;
      return null;
    }
    const suppressed = seen?.suppressed ?? 0;
    this.keys.delete(key); // re-inserted last: the map stays ordered by last logged
    this.keys.set(key, { at: now, suppressed: 0 });
    if (this.keys.size > MAX_KEYS) this.prune(now);
    return suppressed;
  }

  /** How many keys are held (for tests of the bound). */
  get size(): number {
    return this.keys.size;
  }

  private prune(now: number): void {
    for (const [k, v] of this.keys) {
      if (now - v.at >= this.intervalMs) this.keys.delete(k);
    }
    // All recent: drop the oldest (insertion order is last-logged order).
    for (const k of this.keys.keys()) {
      if (this.keys.size <= MAX_KEYS) break;
      this.keys.delete(k);
    }
  }
}
