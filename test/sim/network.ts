/**
 * A simulated network for the Raft simulation: every message gets a delivery time (so
 * messages are delayed and reordered), may be dropped or duplicated, and is discarded when
 * its link is cut. Links are directed, so partitions can be symmetric or asymmetric.
 */
import type { Message, NodeId, SeededRng } from "../../raft/index.ts";

/** Fault rates of the network; all zero means a perfect network with small delays. */
export interface NetworkFaults {
  drop: number;
  duplicate: number;
  /** Probability of a long delay (reordering behind later messages). */
  longDelay: number;
}

/** A message in flight. */
interface InFlight {
  at: number;
  seq: number;
  msg: Message;
}

/** The simulated network. */
export class SimNetwork {
  private inFlight: InFlight[] = [];
  private seq = 0;
  private readonly cut = new Set<string>();
  faults: NetworkFaults = { drop: 0, duplicate: 0, longDelay: 0 };

  constructor(private readonly rng: SeededRng) {}

  private static link(from: NodeId, to: NodeId): string {
    return `${from}>${to}`;
  }

  /** Queue a message sent at tick `now`. */
  send(msg: Message, now: number): void {
    if (this.rng.chance(this.faults.drop)) return;
    const copies = this.rng.chance(this.faults.duplicate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.rng.chance(this.faults.longDelay) ? 3 + this.rng.int(15) : this.rng.int(3);
      this.inFlight.push({ at: now + delay, seq: this.seq++, msg });
    }
  }

  /** Take one message due at `now`, chosen at random among the due ones (reordering), or undefined. */
  takeDue(now: number): Message | undefined {
    let due = 0;
    for (const f of this.inFlight) if (f.at <= now) due++;
    if (due === 0) return undefined;
    let k = this.rng.int(due);
    for (let i = 0; i < this.inFlight.length; i++) {
      const f = this.inFlight[i]!;
      if (f.at > now) continue;
      if (k-- === 0) {
        this.inFlight.splice(i, 1);
        return f.msg;
      }
    }
    return undefined;
  }

  /** Whether the link from→to is currently cut. */
  isCut(from: NodeId, to: NodeId): boolean {
    return this.cut.has(SimNetwork.link(from, to));
  }

  /** Cut one direction of a link (asymmetric partition). */
  cutLink(from: NodeId, to: NodeId): void {
    this.cut.add(SimNetwork.link(from, to));
  }

  /** Cut every link between the two groups, both directions (symmetric partition). */
  partition(a: readonly NodeId[], b: readonly NodeId[]): void {
    for (const x of a) {
      for (const y of b) {
        this.cutLink(x, y);
        this.cutLink(y, x);
      }
    }
  }

  /** Restore every link. */
  heal(): void {
    this.cut.clear();
  }

  /** Number of cut directed links. */
  cutCount(): number {
    return this.cut.size;
  }

  /** Messages still in flight. */
  pending(): number {
    return this.inFlight.length;
  }
}
