/**
 * The FIFO behind each peer's outbound queue in the gRPC peer transport. Raft bursts can be
 * thousands of messages long, so push and shift are O(1) (amortised): shifting moves a head
 * index and the array is compacted only once its dead prefix is at least half of it.
 */
import type { Message } from "../../raft/index.ts";

/** A FIFO of messages with O(1) push and shift. */
export class MessageQueue {
  private items: Message[] = [];
  private head = 0;

  /** Messages waiting. */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Add `m` at the back. */
  push(m: Message): void {
    this.items.push(m);
  }

  /** Remove and return the front message, or undefined when empty. */
  shift(): Message | undefined {
    if (this.head >= this.items.length) return undefined;
    const m = this.items[this.head]!;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return m;
  }

  /** Remove and return everything, in order. */
  drain(): Message[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}
