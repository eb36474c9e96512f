/**
 * The gRPC peer transport end to end on 127.0.0.1 (port 0 everywhere): message fidelity,
 * chunked snapshots, reconnects, queue bounds, token and mutual-TLS refusals, and hostile
 * input that must neither crash the server nor reach Raft.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import test, { type ExecutionContext } from "ava";
import { type Logger, pino } from "pino";
import { type Entry, type Message, message, type NodeId } from "../../../raft/index.ts";
import { tokenMetadata } from "../../../src/rpc/grpc-auth.ts";
import type { TlsFiles } from "../../../src/rpc/grpc-credentials.ts";
import {
  GrpcPeerTransport,
  type GrpcPeerTransportOptions,
} from "../../../src/transport/grpc-peer-transport.ts";
import { createGrpcServer, type GrpcServer } from "../../../src/rpc/grpc-server.ts";
import type { PeerTransportEvents } from "../../../src/transport/peer-transport.ts";
import {
  BadPeerMessageError,
  DEFAULT_PEER_MESSAGE_LIMITS,
  decodeFrame,
  decodeMessage,
  decodeStreamSummary,
  encodeFrame,
  encodeMessage,
  RAFT_PEER_STREAM_PATH,
  type RaftMessageObject,
  validateMessage,
} from "../../../src/transport/raft-codec.ts";
import { makeCa, makeNodeCert, opensslAvailable } from "../../fixtures/make-test-certs.ts";

const TOKEN = "s3cret-cluster-token";
const CLUSTER = "test-cluster";

// ---------------------------------------------------------------- helpers

/** A pino logger whose JSON lines are kept for assertions. */
function captureLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "debug" }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { logger, lines };
}

/** Records transport events. */
class Recorder implements PeerTransportEvents {
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
async function eventually(t: ExecutionContext, what: string, pred: () => boolean, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) {
      t.fail(`timed out waiting for: ${what}`);
      throw new Error(`timed out waiting for: ${what}`);
    }
    await sleep(10);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Node {
  readonly name: NodeId;
  readonly server: GrpcServer;
  readonly transport: GrpcPeerTransport;
  readonly rec: Recorder;
  readonly lines: Record<string, unknown>[];
}

/** A server plus transport for node `name`, torn down with the test. */
async function startNode(
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
function startSender(t: ExecutionContext, name: NodeId, extra: Partial<GrpcPeerTransportOptions> = {}) {
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

function entry(index: number, term: number, text: string, type: Entry["type"] = "normal"): Entry {
  return { index, term, type, data: new TextEncoder().encode(text) };
}

/** One message of every kind from `from` to `to`. */
function everyKind(from: NodeId, to: NodeId): Message[] {
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

function snapMessage(from: NodeId, to: NodeId, data: Uint8Array, index = 100): Message {
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
async function deadPeerPort(): Promise<{ port: number; release: () => Promise<void> }> {
  const srv = createServer((sock) => sock.destroy());
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  return { port, release: () => new Promise<void>((r) => srv.close(() => r())) };
}

/** Send raw frames on one RaftPeer stream; resolves with the final status. */
async function rawStream(
  address: string,
  frames: readonly Buffer[],
  metadata: grpc.Metadata = tokenMetadata(TOKEN),
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
): Promise<{ code: grpc.status; details: string }> {
  const client = new grpc.Client(address, credentials);
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

function wire(m: Message, cluster = CLUSTER): RaftMessageObject {
  return encodeMessage(m, cluster);
}

function warnings(lines: Record<string, unknown>[], text: string): Record<string, unknown>[] {
  return lines.filter((l) => l.level === 40 && String(l.msg).includes(text));
}

// ---------------------------------------------------------------- codec and validation

test("every message kind survives encode -> frame -> decode unchanged", (t) => {
  const all = [...everyKind("a", "b"), snapMessage("a", "b", new Uint8Array([1, 2, 3]))];
  for (const m of all) {
    const frame = decodeFrame(encodeFrame({ message: encodeMessage(m, CLUSTER) }));
    t.truthy(frame.message, m.type);
    const back = decodeMessage(frame.message!, m.snapshot?.data);
    t.deepEqual(back, m, m.type);
    t.notThrows(() => validateMessage(back, "b"), m.type);
    t.is(frame.message!.cluster, CLUSTER);
  }
});

test("validateMessage names the offending field", (t) => {
  const good = everyKind("a", "b")[0]!;
  t.notThrows(() => validateMessage(good, "b"));
  const bad = (m: unknown, field: string, limits = DEFAULT_PEER_MESSAGE_LIMITS) => {
    const err = t.throws(() => validateMessage(m as Message, "b", limits), {
      instanceOf: BadPeerMessageError,
    });
    t.is(err?.field, field, err?.message);
    t.true(err?.message.includes(field));
  };
  const e = good.entries;
  bad({ ...good, type: "bogus" }, "type");
  bad({ ...good, from: "" }, "from");
  bad({ ...good, to: "" }, "to");
  bad({ ...good, to: "c" }, "to");
  bad({ ...good, from: "b" }, "from");
  bad({ ...good, from: "x".repeat(300) }, "from");
  bad({ ...good, term: -1 }, "term");
  bad({ ...good, term: 1.5 }, "term");
  bad({ ...good, logTerm: Number.NaN }, "logTerm");
  bad({ ...good, index: 2 ** 53 }, "index");
  bad({ ...good, commit: "4" }, "commit");
  bad({ ...good, rejectHint: -3 }, "rejectHint");
  bad({ ...good, reject: 1 }, "reject");
  bad({ ...good, context: "x".repeat(70_000) }, "context");
  bad({ ...good, entries: [e[0], e[2]] }, "entries[1].index");
  bad({ ...good, index: 40 }, "entries[0].index");
  bad({ ...good, entries: [{ ...e[0]!, term: 8 }] }, "entries[0].term");
  bad({ ...good, entries: [e[0], { ...e[1]!, term: 5 }] }, "entries[1].term");
  bad({ ...good, entries: [{ ...e[0]!, type: "weird" }] }, "entries[0].type");
  bad({ ...good, entries: [{ ...e[0]!, data: "text" }] }, "entries[0].data");
  bad({ ...good, entries: [entry(42, 6, "x".repeat(100))] }, "entries[0].data", {
    ...DEFAULT_PEER_MESSAGE_LIMITS,
    maxEntryBytes: 64,
  });
  bad({ ...everyKind("a", "b")[6]!, entries: [entry(1, 1, "")] }, "entries");
  bad({ ...message({ type: "snap", from: "a", to: "b", term: 5 }) }, "snapshot");
  const snap = snapMessage("a", "b", new Uint8Array(10));
  t.notThrows(() => validateMessage(snap, "b"));
  bad({ ...everyKind("a", "b")[6]!, snapshot: snap.snapshot }, "snapshot");
  bad(
    { ...snap, snapshot: { ...snap.snapshot!, meta: { ...snap.snapshot!.meta, term: 6 } } },
    "snapshot.meta.term",
  );
  bad(
    { ...snap, snapshot: { ...snap.snapshot!, meta: { ...snap.snapshot!.meta, index: -1 } } },
    "snapshot.meta.index",
  );
  bad(
    {
      ...snap,
      snapshot: {
        ...snap.snapshot!,
        meta: { ...snap.snapshot!.meta, conf: { voters: ["a"], learners: ["a"] } },
      },
    },
    "snapshot.meta.conf.learners",
  );
  bad(
    {
      ...snap,
      snapshot: { ...snap.snapshot!, meta: { ...snap.snapshot!.meta, conf: { voters: [""], learners: [] } } },
    },
    "snapshot.meta.conf.voters[0]",
  );
  bad(snap, "snapshot.data", { ...DEFAULT_PEER_MESSAGE_LIMITS, maxSnapshotBytes: 5 });
});

test("decodeMessage refuses unknown message and entry types", (t) => {
  const obj = wire(everyKind("a", "b")[0]!);
  const err = t.throws(() => decodeMessage({ ...obj, type: 99 }), { instanceOf: BadPeerMessageError });
  t.is(err?.field, "type");
  const frame = decodeFrame(encodeFrame({ message: { ...obj, type: 99 } }));
  t.throws(() => decodeMessage(frame.message!), { instanceOf: BadPeerMessageError, message: /type/ });
  const ents = decodeFrame(encodeFrame({ message: { ...obj, entries: [{ ...obj.entries[0]!, type: 7 }] } }));
  const err2 = t.throws(() => decodeMessage(ents.message!), { instanceOf: BadPeerMessageError });
  t.is(err2?.field, "entries[0].type");
  t.throws(() => decodeFrame(Buffer.from("definitely not protobuf \xff\xff")), {
    instanceOf: BadPeerMessageError,
  });
  t.throws(() => decodeFrame(Buffer.alloc(0)), { instanceOf: BadPeerMessageError, message: /neither/ });
});

// ---------------------------------------------------------------- end to end

test("two transports exchange every kind of message intact and in order", async (t) => {
  const a = await startNode(t, "a");
  const b = await startNode(t, "b");
  a.transport.setPeers(new Map([["b", b.server.address]]));
  b.transport.setPeers(new Map([["a", a.server.address]]));
  const toB = everyKind("a", "b");
  const toA = everyKind("b", "a");
  a.transport.send(toB);
  b.transport.send(toA);
  await eventually(
    t,
    "all messages",
    () => b.rec.messages.length === toB.length && a.rec.messages.length === toA.length,
  );
  t.deepEqual(b.rec.messages, toB);
  t.deepEqual(a.rec.messages, toA);
  t.deepEqual(a.rec.unreachable, []);
  t.deepEqual(b.rec.unreachable, []);
  // A second batch reuses the open stream.
  a.transport.send([toB[6]!]);
  await eventually(t, "second batch", () => b.rec.messages.length === toB.length + 1);
});

test("a 3 MiB snapshot arrives whole, in order with other messages, and is reported sent", async (t) => {
  const a = await startNode(t, "a");
  const b = await startNode(t, "b");
  a.transport.setPeers(new Map([["b", b.server.address]]));
  const data = new Uint8Array(randomBytes(3 * 1024 * 1024 + 12345));
  const hb = message({ type: "heartbeat", from: "a", to: "b", term: 5 });
  const empty = snapMessage("a", "b", new Uint8Array(), 1);
  a.transport.send([hb, snapMessage("a", "b", data), hb, empty]);
  await eventually(t, "snapshot delivered", () => b.rec.messages.length === 4);
  const [m0, m1, m2, m3] = b.rec.messages;
  t.is(m0?.type, "heartbeat");
  t.is(m1?.type, "snap");
  t.is(m1?.snapshot?.data.length, data.length);
  // Compare the 3 MiB as a buffer (ava's deepEqual walks typed arrays element by element).
  t.true(Buffer.from(m1!.snapshot!.data).equals(data), "snapshot data intact");
  t.true(m1!.snapshot!.data instanceof Uint8Array);
  t.deepEqual(
    { ...m1!, snapshot: { ...m1!.snapshot!, data: null } },
    {
      ...snapMessage("a", "b", data),
      snapshot: { ...snapMessage("a", "b", data).snapshot!, data: null },
    },
  );
  t.is(m2?.type, "heartbeat");
  t.deepEqual(m3, empty);
  await eventually(t, "snapshot status", () => a.rec.snapshots.length === 2);
  t.deepEqual(a.rec.snapshots, [
    { peer: "b", ok: true },
    { peer: "b", ok: true },
  ]);
});

test("an unreachable peer is reported, and messages get through once it starts", async (t) => {
  const dead = await deadPeerPort();
  const address = `127.0.0.1:${dead.port}`;
  const a = startSender(t, "a");
  a.transport.setPeers(new Map([["b", address]]));
  const hb = (term: number) => message({ type: "heartbeat", from: "a", to: "b", term });
  a.transport.send([hb(1)]);
  await eventually(t, "unreachable reported", () => a.rec.unreachable.includes("b"));
  // A snapshot to a peer that is down fails (now or when its stream fails).
  a.transport.send([snapMessage("a", "b", new Uint8Array(10))]);
  await eventually(t, "snapshot failure", () => a.rec.snapshots.some((s) => !s.ok));
  t.true(a.lines.some((l) => l.level === 40 && l.msg === "Raft peer unreachable"));

  await dead.release();
  const b = await startNode(t, "b", { listen: address });
  // Raft keeps sending heartbeats; one gets through once the backoff allows a new stream.
  for (let term = 2; b.rec.messages.length === 0 && term < 400; term++) {
    a.transport.send([hb(term)]);
    await sleep(25);
  }
  t.true(b.rec.messages.length > 0, "a message arrived after the peer started");
  t.is(b.rec.messages[0]?.type, "heartbeat");
  t.true(a.lines.some((l) => l.msg === "Raft peer reachable again"));
});

test("a full queue drops the excess and reports it (snapshots as failed)", async (t) => {
  const b = await startNode(t, "b");
  const a = startSender(t, "a", { queueLimit: 3 });
  a.transport.setPeers(new Map([["b", b.server.address]]));
  const msgs = [1, 2, 3, 4, 5].map((term) => message({ type: "heartbeat", from: "a", to: "b", term }));
  a.transport.send([...msgs, snapMessage("a", "b", new Uint8Array(4), 9)]);
  // Events are never delivered synchronously from send().
  t.deepEqual(a.rec.unreachable, []);
  await eventually(t, "drops reported", () => a.rec.unreachable.length === 3 && a.rec.snapshots.length === 1);
  t.deepEqual(a.rec.snapshots, [{ peer: "b", ok: false }]);
  await eventually(t, "queued messages delivered", () => b.rec.messages.length === 3);
  await sleep(100);
  t.deepEqual(
    b.rec.messages.map((m) => m.term),
    [1, 2, 3],
  );
  // A message to a peer missing from the address book is dropped and reported too.
  a.transport.send([message({ type: "heartbeat", from: "a", to: "zz", term: 1 })]);
  await eventually(t, "unknown peer reported", () => a.rec.unreachable.includes("zz"));
});

test("a silent peer: backpressure bounds the queue, the excess is dropped, the stalled stream abandoned", async (t) => {
  // Accepts TCP connections and never answers: no HTTP/2, no gRPC, no error either.
  const held: Socket[] = [];
  const silent = createServer((sock) => {
    held.push(sock);
    sock.on("error", () => {});
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", r));
  t.teardown(() => {
    for (const sock of held) sock.destroy();
    silent.close();
  });
  const address = `127.0.0.1:${(silent.address() as { port: number }).port}`;
  const a = startSender(t, "a", { queueLimit: 8, connectTimeoutMs: 400 });
  a.transport.setPeers(new Map([["b", address]]));
  const hb = (term: number) => message({ type: "heartbeat", from: "a", to: "b", term });
  // Sent over several turns of the event loop, so the stream is open and writes back up.
  for (let term = 1; term <= 60; term++) {
    a.transport.send([hb(term)]);
    if (term % 5 === 0) await sleep(5);
  }
  await eventually(t, "queue-full drops", () => a.rec.unreachable.length > 10);
  t.true(a.lines.some((l) => l.why === "outbound queue full"));
  await eventually(t, "stalled stream abandoned", () =>
    a.lines.some((l) => l.msg === "peer did not accept the stream in time"),
  );
  // Everything was accounted for: all 60 either dropped (reported) or lost with the
  // stream (one report for the stream failure).
  await sleep(50);
  const dropped = a.lines.filter((l) => l.msg === "dropped Raft message").length;
  t.true(dropped >= 60 - 8 - 16, `dropped ${dropped}`);
});

test("a wrong token is refused with UNAUTHENTICATED, logged, and the server keeps serving", async (t) => {
  const a = await startNode(t, "a");
  const intruder = startSender(t, "x", { token: "not-the-token" });
  intruder.transport.setPeers(new Map([["a", a.server.address]]));
  intruder.transport.send([message({ type: "heartbeat", from: "x", to: "a", term: 1 })]);
  await eventually(t, "intruder reported unreachable", () => intruder.rec.unreachable.includes("a"));
  t.true(
    intruder.lines.some((l) => l.code === "UNAUTHENTICATED" && l.msg === "Raft peer refused our stream"),
  );

  const noToken = await rawStream(a.server.address, [], new grpc.Metadata());
  t.is(noToken.code, grpc.status.UNAUTHENTICATED);
  t.is(noToken.details, "missing or wrong cluster token");
  const wrong = await rawStream(a.server.address, [], tokenMetadata("nope"));
  t.is(wrong.code, grpc.status.UNAUTHENTICATED);

  const refusals = warnings(a.lines, "missing or wrong cluster token");
  t.true(refusals.length >= 3);
  t.regex(String(refusals[0]?.peer), /127\.0\.0\.1:\d+/);
  t.deepEqual(a.rec.messages, [], "nothing from the intruder was delivered");

  const b = startSender(t, "b");
  b.transport.setPeers(new Map([["a", a.server.address]]));
  b.transport.send([message({ type: "heartbeat", from: "b", to: "a", term: 2 })]);
  await eventually(t, "good peer delivered", () => a.rec.messages.length === 1);
});

test("garbage bytes and malformed frames end only their own stream; valid traffic continues", async (t) => {
  const a = await startNode(t, "a");
  const addr = a.server.address;

  // Raw garbage on the TCP port (not even HTTP/2).
  for (const junk of [randomBytes(4096), Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")]) {
    await new Promise<void>((resolve) => {
      const sock = new Socket();
      sock.on("error", () => resolve());
      sock.on("close", () => resolve());
      sock.connect(a.server.port, "127.0.0.1", () => {
        sock.write(junk);
        setTimeout(() => sock.destroy(), 200);
      });
    });
  }

  const good = everyKind("b", "a");
  const app = wire(good[0]!);
  const cases: { name: string; frames: Buffer[]; code: grpc.status; details: RegExp }[] = [
    { name: "not protobuf", frames: [Buffer.from([0xff, 0xff, 0xff, 0x07])], code: 3, details: /frame/ },
    { name: "empty frame", frames: [Buffer.alloc(0)], code: 3, details: /frame/ },
    {
      name: "non-consecutive entries",
      frames: [encodeFrame({ message: { ...app, entries: [app.entries[0]!, app.entries[2]!] } })],
      code: 3,
      details: /entries\[1\]\.index/,
    },
    {
      name: "unknown type",
      frames: [encodeFrame({ message: { ...app, type: 99 } })],
      code: 3,
      details: /type/,
    },
    {
      name: "addressed elsewhere",
      frames: [encodeFrame({ message: { ...app, to: "c" } })],
      code: 3,
      details: /to: addressed to c/,
    },
    {
      name: "other cluster",
      frames: [encodeFrame({ message: wire(good[6]!, "other-cluster") })],
      code: grpc.status.FAILED_PRECONDITION,
      details: /other-cluster/,
    },
    {
      name: "chunk without snap",
      frames: [encodeFrame({ chunk: { offset: 0, data: new Uint8Array(3), last: true } })],
      code: 3,
      details: /out of order/,
    },
    {
      name: "message inside a snapshot transfer",
      frames: [
        encodeFrame({ message: wire(snapMessage("b", "a", new Uint8Array(10))) }),
        encodeFrame({ message: wire(good[6]!) }),
      ],
      code: 3,
      details: /out of order/,
    },
    {
      name: "chunk at the wrong offset",
      frames: [
        encodeFrame({ message: wire(snapMessage("b", "a", new Uint8Array(10))) }),
        encodeFrame({ chunk: { offset: 4, data: new Uint8Array(6), last: true } }),
      ],
      code: 3,
      details: /chunk\.offset/,
    },
    {
      name: "more data than announced",
      frames: [
        encodeFrame({ message: wire(snapMessage("b", "a", new Uint8Array(10))) }),
        encodeFrame({ chunk: { offset: 0, data: new Uint8Array(11), last: true } }),
      ],
      code: 3,
      details: /chunk\.data/,
    },
    {
      name: "sender changes mid-stream",
      frames: [
        encodeFrame({ message: wire(good[6]!) }),
        encodeFrame({ message: wire(everyKind("c", "a")[6]!) }),
      ],
      code: 3,
      details: /from/,
    },
    {
      name: "oversized frame",
      frames: [Buffer.alloc(5 * 1024 * 1024)],
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: /./,
    },
  ];
  for (const c of cases) {
    const res = await rawStream(addr, c.frames);
    t.is(res.code, c.code, `${c.name}: ${res.details}`);
    t.regex(res.details, c.details, c.name);
  }
  t.true(warnings(a.lines, "refused a Raft peer stream").length >= cases.length - 1);
  // Only the well-formed heartbeat of "sender changes mid-stream" got through.
  t.deepEqual(
    a.rec.messages.map((m) => `${m.type}:${m.from}`),
    ["heartbeat:b"],
  );

  const b = startSender(t, "b");
  b.transport.setPeers(new Map([["a", addr]]));
  b.transport.send(good);
  await eventually(t, "valid traffic after the abuse", () => a.rec.messages.length === 1 + good.length);
  t.deepEqual(a.rec.messages.slice(1), good);
});

test("setPeers closes removed peers; close() is idempotent and silences the transport", async (t) => {
  const b = await startNode(t, "b");
  const a = startSender(t, "a");
  a.transport.setPeers(new Map([["b", b.server.address]]));
  a.transport.send([message({ type: "heartbeat", from: "a", to: "b", term: 1 })]);
  await eventually(t, "delivered", () => b.rec.messages.length === 1);
  a.transport.setPeers(new Map());
  a.transport.send([message({ type: "heartbeat", from: "a", to: "b", term: 2 })]);
  await eventually(t, "removed peer reported", () => a.rec.unreachable.includes("b"));
  await a.transport.close();
  await a.transport.close();
  a.transport.send([message({ type: "heartbeat", from: "a", to: "b", term: 3 })]);
  await sleep(50);
  t.is(b.rec.messages.length, 1);
  t.deepEqual(a.rec.unreachable, ["b"]);
});

// ---------------------------------------------------------------- mutual TLS

interface Pki {
  readonly dir: string;
  readonly a: TlsFiles;
  readonly b: TlsFiles;
  readonly rogue: TlsFiles;
  readonly noClientCert: { ca: string };
}

let pki: Pki | undefined;

test.before(() => {
  if (!opensslAvailable()) return;
  const dir = mkdtempSync(join(tmpdir(), "conclave-tls-"));
  const ca = makeCa(dir, "cluster-ca");
  const otherCa = makeCa(dir, "other-ca");
  // a's certificate names only the node (checked through the peer-name fallback);
  // b's names the loopback address (the ordinary hostname check).
  const a = makeNodeCert(dir, ca, "a", ["DNS:a"]);
  const b = makeNodeCert(dir, ca, "b", ["IP:127.0.0.1", "DNS:b"]);
  const rogue = makeNodeCert(dir, otherCa, "r", ["IP:127.0.0.1", "DNS:r"]);
  pki = {
    dir,
    a: { ca: ca.cert, ...a },
    b: { ca: ca.cert, ...b },
    // The rogue trusts the real cluster CA (so it would accept the server) but its own
    // certificate comes from another CA.
    rogue: { ca: ca.cert, ...rogue },
    noClientCert: { ca: ca.cert },
  };
});

test.after.always(() => {
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

test("mutual TLS: cluster peers talk, a wrong-CA or certificate-less peer is refused", async (t) => {
  if (!pki) {
    t.log("openssl not found: mutual TLS test skipped");
    t.pass();
    return;
  }
  const a = await startNode(t, "a", { tls: pki.a });
  const b = await startNode(t, "b", { tls: pki.b });
  a.transport.setPeers(new Map([["b", b.server.address]]));
  b.transport.setPeers(new Map([["a", a.server.address]]));
  a.transport.send(everyKind("a", "b"));
  b.transport.send([snapMessage("b", "a", new Uint8Array(randomBytes(600_000)))]);
  await eventually(t, "TLS traffic", () => b.rec.messages.length === 11 && a.rec.messages.length === 1);
  t.deepEqual(b.rec.messages, everyKind("a", "b"));
  await eventually(t, "TLS snapshot ok", () => b.rec.snapshots.length === 1);
  t.deepEqual(b.rec.snapshots, [{ peer: "a", ok: true }]);

  const rogue = startSender(t, "b", { tls: pki.rogue });
  rogue.transport.setPeers(new Map([["a", a.server.address]]));
  rogue.transport.send([message({ type: "heartbeat", from: "b", to: "a", term: 66 })]);
  await eventually(t, "rogue refused", () => rogue.rec.unreachable.includes("a"));

  // A cluster certificate that names neither the dialled host nor the expected node: a's
  // certificate names only "a", so dialling it as "c" must fail the identity check.
  const confused = startSender(t, "b", { tls: pki.b });
  confused.transport.setPeers(new Map([["c", a.server.address]]));
  confused.transport.send([message({ type: "heartbeat", from: "b", to: "c", term: 65 })]);
  await eventually(t, "identity mismatch refused", () => confused.rec.unreachable.includes("c"));

  // Right token, no client certificate at all.
  const noCert = await rawStream(
    a.server.address,
    [encodeFrame({ message: wire(message({ type: "heartbeat", from: "b", to: "a", term: 67 })) })],
    tokenMetadata(TOKEN),
    grpc.credentials.createSsl(readFileSync(pki.noClientCert.ca)),
  );
  t.is(noCert.code, grpc.status.UNAVAILABLE);
  // Plaintext against a TLS port.
  const plain = await rawStream(a.server.address, [
    encodeFrame({ message: wire(message({ type: "heartbeat", from: "b", to: "a", term: 68 })) }),
  ]);
  t.not(plain.code, grpc.status.OK);

  t.false(
    a.rec.messages.some((m) => m.term >= 65),
    "nothing from refused peers was delivered",
  );
  // The server still serves the legitimate peer.
  b.transport.send([message({ type: "heartbeat", from: "b", to: "a", term: 70 })]);
  await eventually(t, "good peer after refusals", () => a.rec.messages.some((m) => m.term === 70));
});
