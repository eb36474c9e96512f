/**
 * A member's report stream as the member service sees it (a stand-in for a grpc-js server
 * duplex stream): what the service wrote, whether it ended, and the status it ended with.
 */
import { EventEmitter } from "node:events";

/** A member's stream: what it wrote, and whether it ended. */
export class FakeMemberStream extends EventEmitter {
  readonly written: unknown[] = [];
  ended = false;
  destroyed: (Error & { code?: number; details?: string }) | null = null;
  constructor() {
    super();
    // As on a grpc-js server stream: an emitted 'error' ends the call with its status.
    this.on("error", (e: Error) => {
      this.destroyed = e;
    });
  }
  write(message: unknown): boolean {
    this.written.push(message);
    return true;
  }
  end(): void {
    this.ended = true;
  }
  destroy(err: Error): void {
    this.destroyed = err;
  }
  getPeer(): string {
    return "ipv4:127.0.0.1:5555";
  }
  /** The member sends `message`. */
  send(message: object): void {
    this.emit("data", message);
  }
}
