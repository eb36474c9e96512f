/**
 * Flow control: the append messages sent to one follower and not yet acknowledged.
 * Each slot records the last index a message carried and its size in bytes; the leader
 * stops sending when either the count or the byte budget is exhausted.
 */
export class Inflights {
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];
  private bytes = 0;

  /**
   * @param maxCount most messages in flight
   * @param maxBytes most bytes in flight (0 = unlimited)
   */
  constructor(
    readonly maxCount: number,
    readonly maxBytes: number,
  ) {}

  /** Record a message whose last entry is `index`. Invariant: indexes are added in increasing order. */
  add(index: number, bytes: number): void {
    this.indexes.push(index);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Everything up to and including `index` was acknowledged. */
  freeLE(index: number): void {
    let n = 0;
    while (n < this.indexes.length && this.indexes[n]! <= index) {
      this.bytes -= this.sizes[n]!;
      n++;
    }
    if (n > 0) {
      this.indexes.splice(0, n);
      this.sizes.splice(0, n);
    }
  }

  /**
   * Free the oldest slot. Used when a heartbeat answer shows the follower is alive while
   * the window is full: the messages in it may all have been lost, and without this the
   * leader would never send to that follower again.
   */
  freeFirstOne(): void {
    if (this.indexes.length > 0) this.freeLE(this.indexes[0]!);
  }

  full(): boolean {
    return this.indexes.length >= this.maxCount || (this.maxBytes > 0 && this.bytes >= this.maxBytes);
  }

  count(): number {
    return this.indexes.length;
  }

  reset(): void {
    this.indexes.length = 0;
    this.sizes.length = 0;
    this.bytes = 0;
  }
}
