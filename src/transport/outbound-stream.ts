/**
 * One client stream (`RaftPeer.Stream`) from this node to a peer, and the waits the sender
 * does on it. The peer transport (grpc-peer-transport.ts) decides what to write and what a
 * stream's end means; this module keeps the stream's own state straight.
 *
 * Invariants:
 * - A stream counts as accepted once the receiver sends its response headers, which it does
 *   right after the token check; one not accepted within `connectTimeoutMs` is cancelled.
 * - Once the call ends, every wait on it is released: a writer never hangs on a dead stream.
 * - Writes honour backpressure: after `write()` returns false nothing more is written until
 *   'drain'.
 */
import type * as grpc from "@grpc/grpc-js";
import { tokenMetadata } from "../rpc/grpc-auth.ts";
import { decodeStreamSummary, RAFT_PEER_STREAM_PATH, type StreamSummaryObject } from "./raft-wire.ts";

/** Time to let a closing stream flush before cancelling it. */
const CLOSE_GRACE_MS = 1000;

/** One open (or opening) client stream to a peer. */
export interface OutboundStream {
  readonly call: grpc.ClientWritableStream<Buffer>;
  /** The receiver sent its headers: authenticated and accepted. */
  accepted: boolean;
  /** The call has ended (status received); nothing written now is delivered. */
  ended: boolean;
  /** Ended on purpose (peer removed or transport closed): not a failure to report. */
  closing: boolean;
  /** A snapshot has been started on this stream and not yet reported. */
  snapshotInFlight: boolean;
  /** Called when the stream ends, to release writers waiting for 'drain' or a write callback. */
  readonly waiters: Set<() => void>;
  connectTimer: NodeJS.Timeout | null;
  /** Resolves when the call has ended. */
  readonly done: Promise<void>;
}

/** Options of {@link openOutboundStream}. */
export interface OpenStreamOptions {
  /** The channel to the peer. */
  readonly client: grpc.Client;
  /** The cluster token, presented in the call's metadata. */
  readonly token: string;
  /** A stream not accepted within this time is cancelled. */
  readonly connectTimeoutMs: number;
  /** The receiver accepted the stream. */
  readonly onAccepted: () => void;
  /** The receiver did not accept in time; the stream is cancelled right after. */
  readonly onConnectTimeout: () => void;
  /** The call ended (error or not); the stream is already marked ended and its waits released. */
  readonly onEnd: (s: OutboundStream, err: grpc.ServiceError | null) => void;
}

/** Whether frames written to `s` can still be delivered. */
export function usable(s: OutboundStream): boolean {
  return !s.ended && !s.closing;
}

/** Open a new stream on `o.client`. Its end (error or not) is reported to `o.onEnd`. */
export function openOutboundStream(o: OpenStreamOptions): OutboundStream {
  let resolveDone!: () => void;
  const done = new Promise<void>((r) => {
    resolveDone = r;
  });
  // `s` is assigned before any callback can run (they are all asynchronous).
  let s!: OutboundStream;
  const call = o.client.makeClientStreamRequest<Buffer, StreamSummaryObject>(
    RAFT_PEER_STREAM_PATH,
    (frame: Buffer) => frame,
    decodeStreamSummary,
    tokenMetadata(o.token),
    {},
    (err) => {
      s.ended = true;
      if (s.connectTimer) clearTimeout(s.connectTimer);
      s.connectTimer = null;
      for (const wake of [...s.waiters]) wake();
      o.onEnd(s, err);
      resolveDone();
    },
  );
  s = {
    call,
    accepted: false,
    ended: false,
    closing: false,
    snapshotInFlight: false,
    waiters: new Set(),
    connectTimer: null,
    done,
  };
  s.connectTimer = setTimeout(() => {
    s.connectTimer = null;
    if (!s.accepted && !s.ended) {
      o.onConnectTimeout();
      call.cancel();
    }
  }, o.connectTimeoutMs);
  s.connectTimer.unref();
  call.on("metadata", () => {
    s.accepted = true;
    if (s.connectTimer) clearTimeout(s.connectTimer);
    s.connectTimer = null;
    o.onAccepted();
  });
  // Errors are reported through the callback; a listener keeps a stray 'error' harmless.
  call.on("error", () => {});
  return s;
}

/** End `s` on purpose: let written frames flush for a grace period, then cancel. Resolves once it ended. */
export async function closeOutboundStream(s: OutboundStream): Promise<void> {
  if (s.ended) return;
  s.closing = true;
  s.call.end();
  const timer = setTimeout(() => s.call.cancel(), CLOSE_GRACE_MS);
  await s.done;
  clearTimeout(timer);
}

/**
 * Wait until `arm`'s callback fires or the stream ends, whichever is first (`arm` registers
 * the callback: a 'drain' or 'metadata' listener, or a write callback).
 */
export function waitFor(s: OutboundStream, arm: (wake: () => void) => void): Promise<void> {
  if (s.ended) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const wake = (): void => {
      s.waiters.delete(wake);
      resolve();
    };
    s.waiters.add(wake);
    arm(wake);
  });
}

/** Write one frame and wait until gRPC has taken it; false when the stream ended first. */
export async function writeAndWait(s: OutboundStream, frame: Buffer): Promise<boolean> {
  if (!usable(s)) return false;
  await waitFor(s, (wake) => s.call.write(frame, () => wake()));
  return usable(s);
}
