/**
 * Fixtures for the peer transport's tests (not a test file itself): nodes and senders torn
 * down with the test, a recorder of transport events, messages of every kind, a dead peer
 * port, and raw `RaftPeer` streams for sending hand-made frames.
 */
import { createServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import type { ExecutionContext } from "ava";
import { type Logger, pino } from "pino";
import { type Entry, type Message, message, type NodeId } from "../../../raft/index.ts";
import { tokenMetadata } from "../../../src/rpc/grpc-auth.ts";
import { createGrpcServer, type GrpcServer } from "../../../src/rpc/grpc-server.ts";
import {
  GrpcPeerTransport,
  type GrpcPeerTransportOptions,
} from "../../../src/transport/grpc-peer-transport.ts";
import type { PeerTransportEvents } from "../../../src/transport/peer-transport.ts";
import { encodeMessage } from "../../../src/transport/raft-codec.ts";
import {
  decodeStreamSummary,
  encodeFrame,
  RAFT_PEER_STREAM_PATH,
  type RaftMessageObject,
} from "../../../src/transport/raft-wire.ts";

/** The cluster token every test node uses. */
export const TOKEN = "s3cret-cluster-token";
/** The cluster name every test node uses. */
export const CLUSTER = "test-cluster";

/** A pino logger whose JSON lines are kept for assertions. */
export function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { logger, lines };
}

/** Records transport events. */
export class Recorder implements PeerTransportEvents {
  readonly messages: Message[] = [];
  readonly unreachable: NodeId[] = [];
  readonly snapshots: { peer: NodeId; ok: boolean }[] = [];
  onMessage(m: Message): void {
    this.messages.push(m);
  }
  onUnreachable(peer: NodeId): void {
    this.unreachable.push(peer);
  }
  onSnapshotStatus(peer: NodeId, ok: boolean): void {
    this.snapshots.push({ peer, ok });
  }
}

/** Poll until `pred` holds; fails the test with `what` after `ms`. */
export async function eventually(
  t: ExecutionContext,
  what: string,
  pred: () => boolean,
  ms = 8000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) {
      t.fail(`timed out waiting for: ${what}`);
      throw new Error(`timed out waiting for: ${what}`);
    }
    await sleep(10);
  }
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A test node: its server, its transport and what both recorded. */
export interface Node {
  readonly name: NodeId;
  readonly server: GrpcServer;
  readonly transport: GrpcPeerTransport;
  readonly rec: Recorder;
  readonly lines: Record<string, unknown>[];
}

/** A server plus transport for node `name`, torn down with the test. */
export async function startNode(
  t: ExecutionContext,
  name: NodeId,
  extra: Partial<GrpcPeerTransportOptions> & { listen?: string } = {},
): Promise<Node> {
  const { logger, lines } = captureLogger();
  const rec = new Recorder();
  const transport = new GrpcPeerTransport({
    self: name,
    cluster: CLUSTER,
    token: TOKEN,
    logger,
    events: rec,
    ...extra,
  });
  const server = await createGrpcServer({
    listen: extra.listen ?? "127.0.0.1:0",
    token: TOKEN,
    logger,
    ...(extra.tls ? { tls: extra.tls } : {}),
  });
  transport.register(server);
  t.teardown(async () => {
    await transport.close();
    await server.close();
  });
  return { name, server, transport, rec, lines };
}

/** A transport with no server of its own (a sender only). */
export function startSender(
  t: ExecutionContext,
  name: NodeId,
  extra: Partial<GrpcPeerTransportOptions> = {},
) {
  const { logger, lines } = captureLogger();
  const rec = new Recorder();
  const transport = new GrpcPeerTransport({
    self: name,
    cluster: CLUSTER,
    token: TOKEN,
    logger,
    events: rec,
    ...extra,
  });
  t.teardown(() => transport.close());
  return { transport, rec, lines };
}

/** A log entry whose data is `text`. */
export function entry(index: number, term: number, text: string, type: Entry["type"] = "normal"): Entry {
  return { index, term, type, data: new TextEncoder().encode(text) };
}

/** One message of every kind from `from` to `to`. */
export function everyKind(from: NodeId, to: NodeId): Message[] {
  return [
    message({
      type: "app",
      from,
      to,
      term: 7,
      logTerm: 6,
      index: 41,
      commit: 40,
      entries: [entry(42, 6, "put x 1"), entry(43, 7, ""), entry(44, 7, "add-voter c", "conf")],
    }),
    message({ type: "app-resp", from, to, term: 7, index: 44, reject: true, rejectHint: 39, logTerm: 5 }),
    message({ type: "vote", from, to, term: 8, logTerm: 7, index: 44, context: "transfer" }),
    message({ type: "vote-resp", from, to, term: 8, reject: true }),
    message({ type: "prevote", from, to, term: 9, logTerm: 7, index: 44 }),
    message({ type: "prevote-resp", from, to, term: 9 }),
    message({ type: "heartbeat", from, to, term: 8, commit: 44, context: "read-1" }),
    message({ type: "heartbeat-resp", from, to, term: 8, context: "read-1" }),
    message({ type: "timeout-now", from, to, term: 8 }),
    message({ type: "read-index", from, to, term: 8, context: "req-17" }),
    message({ type: "read-index-resp", from, to, term: 8, index: 44, context: "req-17" }),
  ];
}

/** A `snap` message carrying `data`, with a configuration of from, to and learner l1. */
export function snapMessage(from: NodeId, to: NodeId, data: Uint8Array, index = 100): Message {
  return {
    ...message({ type: "snap", from, to, term: 5 }),
    snapshot: { meta: { index, term: 4, conf: { voters: [from, to], learners: ["l1"] } }, data },
  };
}

/**
 * A port on 127.0.0.1 held by a plain TCP server that hangs up on every connection: a peer
 * that is down. Holding the port (rather than picking a free one and releasing it) keeps
 * concurrently running tests from binding it meanwhile. `release()` frees it.
 */
export async function deadPeerPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const srv = createServer((sock) => sock.destroy());
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  return { port, release: () => new Promise<void>((r) => srv.close(() => r())) };
}

/** Send raw frames on one RaftPeer stream; resolves with the final status. */
export async function rawStream(
  address: string,
  frames: readonly Buffer[],
  metadata: grpc.Metadata = tokenMetadata(TOKEN),
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): Promise<{ code: grpc.status; details: string }> {
  return rawStreamOn(new grpc.Client(address, credentials), frames, metadata);
}

/** Send raw frames on one RaftPeer stream of `client` (closed after); resolves with the final status. */
export async function rawStreamOn(
  client: grpc.Client,
  frames: readonly Buffer[],
  metadata: grpc.Metadata,
): Promise<{ code: grpc.status; details: string }> {
  try {
    return await new Promise((resolve) => {
      const call = client.makeClientStreamRequest<Buffer, unknown>(
        RAFT_PEER_STREAM_PATH,
        (b: Buffer) => b,
        decodeStreamSummary,
        metadata,
        {},
        (err) =>
          resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: "" }),
      );
      call.on("error", () => {});
      for (const f of frames) call.write(f);
      call.end();
    });
  } finally {
    client.close();
  }
}

/** One Raft heartbeat `from` → `to` at `term` as a RaftPeer frame, in cluster `cluster`. */
export function heartbeatFrame(from: NodeId, to: NodeId, term: number, cluster = CLUSTER): Buffer {
  return encodeFrame({ message: wire(message({ type: "heartbeat", from, to, term, commit: 0 }), cluster) });
}

/** The wire object of `m`, for hand-built frames. */
export function wire(m: Message, cluster = CLUSTER): RaftMessageObject {
  return encodeMessage(m, cluster);
}

/** The warning lines (pino level 40) whose message includes `text`. */
export function warnings(lines: Record<string, unknown>[], text: string): Record<string, unknown>[] {
  return lines.filter((l) => l.level === 40 && String(l.msg).includes(text));
}
