/**
 * The receiving side of the peer transport (the `RaftPeer` service): a wrong token and
 * hostile input end only their own stream, never crash the server, and never reach Raft.
 */
import { randomBytes } from "node:crypto";
import { Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import test from "ava";
import { message } from "../../../raft/index.ts";
import { tokenMetadata } from "../../../src/rpc/grpc-auth.ts";
import { encodeFrame } from "../../../src/transport/raft-wire.ts";
import {
  everyKind,
  eventually,
  rawStream,
  snapMessage,
  startNode,
  startSender,
  warnings,
  wire,
} from "./peer-fixtures.ts";

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
  // Three callers on three connections, one host and one method: one line (auth-interceptor.ts).
  t.is(refusals.length, 1, JSON.stringify(refusals));
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
