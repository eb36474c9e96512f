/**
 * Injected randomness. The core has no global random source: the runtime passes a seeded
 * generator (or one seeded from crypto), the simulation passes one derived from its seed.
 */

/** A source of uniformly distributed integers. */
export interface Rng {
  /** An integer in [0, n). */
  int(n: number): number;
}

/**
 * A small, fast, seedable generator (mulberry32). Not cryptographic; used for election
 * jitter and by the simulation, where reproducibility from a seed is the point.
 */
export class SeededRng implements Rng {
  private state: number;

  /** @param seed any 32-bit integer; the same seed gives the same sequence. */
  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** @inheritdoc */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty array");
    return items[this.int(items.length)] as T;
  }
}
