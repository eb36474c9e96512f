/**
 * The per-name rules behind the interceptor, on a real GrpcServer with role keys: an elector
 * may send Raft messages only `from` itself (src/transport/raft-peer-service.ts), a member may
 * register only as itself (src/elector/member-service.ts). Each refusal is PERMISSION_DENIED,
 * reaches neither Raft nor the failure detector, and, repeated, is logged once per
 * (identity, claimed name) per minute, like the interceptor's refusals (refusal-log.ts), not
 * once per call: a peer retrying in a loop cannot flood the log. A caller with no valid
 * credential is logged once per host, not once per connection (a retrying client dials from a
 * new port each time).
 */
import * as grpc from "@grpc/grpc-js";
import test, { type ExecutionContext } from "ava";
import pino from "pino";
import { message, type Message } from "../../../raft/index.ts";
import { peerHost } from "../../../src/auth/auth-interceptor.ts";
import { type AuthKeys, decodeKey, generateKey } from "../../../src/auth/auth-keys.ts";
import { mintRoleToken } from "../../../src/auth/role-token.ts";
import {
  type LeaderInfo,
  type MemberReportSink,
  registerMemberService,
} from "../../../src/elector/member-service.ts";
import { tokenMetadata } from "../../../src/rpc/grpc-auth.ts";
import { createGrpcServer } from "../../../src/rpc/grpc-server.ts";
import { registerRaftPeerService } from "../../../src/transport/raft-peer-service.ts";
import { encodeFrame } from "../../../src/transport/raft-wire.ts";
import { rawStream, wire } from "../transport/peer-fixtures.ts";
import { MemberReportsClient, sendReports } from "../../support/member-report-stream.ts";

const key = () => decodeKey(generateKey(), "k") as Buffer;
const keys: AuthKeys = { peer: key(), members: key(), operators: key() };
const CLUSTER = "test-cluster";

/** A keys-mode server on loopback, torn down with the test, and its warning lines. */
async function serve(t: ExecutionContext) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "warn" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const server = await createGrpcServer({ listen: "127.0.0.1:0", auth: { kind: "keys", keys }, logger });
  t.teardown(() => server.close());
  return { server, logger, lines };
}

const warned = (lines: Record<string, unknown>[], text: string) =>
  lines.filter((l) => l.level === 40 && String(l.msg).includes(text));

test("an elector's token cannot send Raft messages from another elector; refusals are logged once", async (t) => {
  const { server, logger, lines } = await serve(t);
  const delivered: Message[] = [];
  registerRaftPeerService(server, {
    self: "e1",
    cluster: CLUSTER,
    logger,
    onMessage: (m) => delivered.push(m),
  });
  const forged = encodeFrame({
    message: wire(message({ type: "heartbeat", from: "e2", to: "e1", term: 1000 }), CLUSTER),
  });
  const asE3 = () => tokenMetadata(mintRoleToken(keys.peer, "elector", "e3"));
  for (let i = 0; i < 4; i++) {
    const r = await rawStream(server.address, [forged], asE3());
    t.is(r.code, grpc.status.PERMISSION_DENIED);
    t.is(r.details, "elector/e3 may not send Raft messages from e2");
  }
  t.deepEqual(delivered, [], "no forged message reached Raft");
  // e2 itself is delivered: the refusal is about the name, not the message.
  const own = await rawStream(
    server.address,
    [forged],
    tokenMetadata(mintRoleToken(keys.peer, "elector", "e2")),
  );
  t.is(own.code, grpc.status.OK, own.details);
  t.is(delivered.length, 1);
  // The four refusals: one line, whose text says who tried to speak for whom.
  const refused = warned(lines, "may not send Raft messages");
  t.is(refused.length, 1, JSON.stringify(lines));
  t.is(refused[0]!.msg, "refused a Raft peer stream: elector/e3 may not send Raft messages from e2");
  t.is(refused[0]!.identity, "elector/e3");
  // Another claimed sender is another key: logged on its own.
  const asE1 = encodeFrame({
    message: wire(message({ type: "heartbeat", from: "e4", to: "e1", term: 1 }), CLUSTER),
  });
  t.is((await rawStream(server.address, [asE1], asE3())).code, grpc.status.PERMISSION_DENIED);
  t.is(warned(lines, "may not send Raft messages").length, 2);
});

/** A leader that never changes (e1, serving members itself). */
const leaderInfo: LeaderInfo = {
  id: "e1",
  leader: () => "e1",
  addressOf: () => "127.0.0.1:1",
  onLeaderChange: () => () => {},
};

/** Open a report stream presenting `token`, send `reports`, and resolve with how it ended. */
const report = (address: string, token: string, reports: object[]) =>
  sendReports(
    new MemberReportsClient(address, grpc.credentials.createInsecure()),
    tokenMetadata(token),
    reports,
  );

test("a member's token cannot register or leave as another member; refusals are logged once", async (t) => {
  const { server, logger, lines } = await serve(t);
  const tracked: unknown[][] = [];
  const tracker: MemberReportSink = {
    registered: (reg) => void tracked.push(["registered", reg.name]),
    heard: (name) => void tracked.push(["heard", name]),
    checkReported: (name) => void tracked.push(["checkReported", name]),
    left: (name) => void tracked.push(["left", name]),
  };
  registerMemberService(server, { node: leaderInfo, tracker, logger });
  const m1 = mintRoleToken(keys.members, "member", "m1");
  const asM2 = [
    { register: { name: "m2", address: "127.0.0.1:2", services: [], checks: { web: "failing" } } },
    { check: { name: "web", state: "failing", detail: "forged" } },
    { leave: {} },
  ];
  for (let i = 0; i < 4; i++) {
    const r = await report(server.address, m1, asM2);
    t.is(r.code, grpc.status.PERMISSION_DENIED);
    t.is(r.details, "member/m1 may not register as member m2");
    t.deepEqual(r.replies, [], "no acknowledgement");
  }
  t.deepEqual(tracked, [], "nothing reached the failure detector");
  const refused = warned(lines, "may not register as member");
  t.is(refused.length, 1, JSON.stringify(lines));
  t.is(refused[0]!.msg, "member/m1 may not register as member m2");
  // m1 as itself is acknowledged.
  const own = await report(server.address, m1, [
    { register: { name: "m1", address: "127.0.0.1:3", services: [], checks: {} } },
  ]);
  t.is(own.replies.length, 1);
  t.deepEqual(tracked[0], ["registered", "m1"]);
});

test("a caller with no valid credential is logged once per host, however many connections", async (t) => {
  const { server, logger, lines } = await serve(t);
  registerRaftPeerService(server, { self: "e1", cluster: CLUSTER, logger, onMessage: () => {} });
  const wrongKey = mintRoleToken(key(), "elector", "e2");
  for (let i = 0; i < 4; i++) {
    // rawStream makes a new client, so each call comes from a new port.
    const r = await rawStream(server.address, [], tokenMetadata(wrongKey));
    t.is(r.code, grpc.status.UNAUTHENTICATED);
    t.is(r.details, "missing or wrong cluster token");
  }
  const refused = warned(lines, "missing or wrong cluster token");
  t.is(refused.length, 1, JSON.stringify(lines));
  t.regex(String(refused[0]!.peer), /^127\.0\.0\.1:\d+$/);
});

test("peerHost drops the port of IPv4 and IPv6 peers", (t) => {
  t.is(peerHost("10.0.0.7:40124"), "10.0.0.7");
  t.is(peerHost("::1:40124"), "::1");
  t.is(peerHost("::ffff:127.0.0.1:5555"), "::ffff:127.0.0.1");
  t.is(peerHost("[fe80::1]:7400"), "fe80::1");
  t.is(peerHost("::1"), "::1", "no port: kept whole");
  t.is(peerHost("unix:/run/x.sock"), "unix:/run/x.sock");
});
