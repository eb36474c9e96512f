/**
 * The campaign's one source of randomness: a small deterministic PRNG (mulberry32), so a seed
 * names a round's whole fault schedule and workload. Never `Math.random` in the campaign.
 */
import { SeededRng } from "../../raft/rng.ts";

/** A seeded generator of uniform numbers: the Raft core's mulberry32 (raft/rng.ts), with the campaign's helpers. */
export class Prng {
  private readonly rng: SeededRng;

  constructor(private readonly seed: number) {
    this.rng = new SeededRng(seed);
  }

  /** A number in [0, 1). */
  next(): number {
    return this.rng.next();
  }

  /** A whole number in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** One element of a non-empty list. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("prng: pick from an empty list");
    return items[Math.floor(this.next() * items.length)]!;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** An independent generator for a named part of the round (the nemesis, one kv client...). */
  fork(label: string): Prng {
    // From the seed, not the position: a fork does not depend on how much was drawn before.
    let h = (this.seed >>> 0) ^ 0x9e3779b9;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    return new Prng(h);
  }
}

/** The seed of round `index` (0-based) of a campaign started with `seed`: replay it with `--seed`. */
export function roundSeed(seed: number, index: number): number {
  return (seed + index) >>> 0;
}
