/**
 * The gRPC peer transport's sending side end to end on 127.0.0.1 (port 0 everywhere):
 * message fidelity, chunked snapshots, reconnects, queue bounds and backpressure, and
 * closing.
 */
import { randomBytes } from "node:crypto";
import { createServer, type Socket } from "node:net";
import test from "ava";
import { message } from "../../../raft/index.ts";
import {
  deadPeerPort,
  everyKind,
  eventually,
  sleep,
  snapMessage,
  startNode,
  startSender,
} from "./peer-fixtures.ts";

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
  // Everything is accounted for: all 60 are either dropped (each reported) or lost with the
  // stream (at most 8 queued and 16 buffered by the stream, one report for the failure). The
  // drops of an abandoned stream's queue are logged after the abandonment, so wait for them.
  const dropped = () => a.lines.filter((l) => l.msg === "dropped Raft message").length;
  await eventually(t, `at least ${60 - 8 - 16} drops reported`, () => dropped() >= 60 - 8 - 16);
  t.true(dropped() <= 60, `dropped ${dropped()}`);
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
