/**
 * The peer transport over mutual TLS: cluster peers talk (certificates naming the node or
 * the address), and a wrong-CA, misnamed or certificate-less peer is refused.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import test from "ava";
import { message } from "../../../raft/index.ts";
import { tokenMetadata } from "../../../src/rpc/grpc-auth.ts";
import type { TlsFiles } from "../../../src/rpc/grpc-credentials.ts";
import { encodeFrame } from "../../../src/transport/raft-wire.ts";
import { makeCa, makeNodeCert, opensslAvailable } from "../../fixtures/make-test-certs.ts";
import {
  everyKind,
  eventually,
  rawStream,
  snapMessage,
  startNode,
  startSender,
  TOKEN,
  wire,
} from "./peer-fixtures.ts";

interface Pki {
  readonly dir: string;
  readonly a: TlsFiles;
  readonly b: TlsFiles;
  readonly rogue: TlsFiles;
  readonly noClientCert: { ca: string };
}

let pki: Pki | undefined;

const haveOpenssl = opensslAvailable();
if (!haveOpenssl)
  console.log("grpc-peer-transport-tls: skipped: openssl not found to make test certificates");
/** Skipped (reported as such, not passed) without openssl to make the certificates. */
const tlsTest = haveOpenssl ? test : test.skip;

test.before(() => {
  if (!haveOpenssl) return;
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

tlsTest("mutual TLS: cluster peers talk, a wrong-CA or certificate-less peer is refused", async (t) => {
  if (!pki) throw new Error("test certificates were not made");
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
