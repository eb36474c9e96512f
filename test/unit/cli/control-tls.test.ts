/**
 * The CLI's control client over TLS, against an in-process gRPC server answering KvGet on
 * 127.0.0.1: dialling an IP address sends no IP as the TLS server name (no DEP0123 warning)
 * while the certificate is still checked against that address and the cluster CA; and a call
 * without `--tls-*` to a TLS server says that the server speaks TLS and which options to pass.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import test, { type ExecutionContext } from "ava";
import { runCli } from "../../../src/cli/cli.ts";
import { tlsHint } from "../../../src/cli/program.ts";
import { speaksTls } from "../../../src/cli/tls-probe.ts";
import { connectControl } from "../../../src/control/control-client.ts";
import { ControlError } from "../../../src/control/control-types.ts";
import { createServerCredentials, type TlsFiles } from "../../../src/rpc/grpc-credentials.ts";
import { controlServiceDefinition } from "../../../src/rpc/service-definitions.ts";
import { freePort } from "../../../src/dev/free-port.ts";
import { type CertFiles, makeCa, makeNodeCert, opensslAvailable } from "../../fixtures/make-test-certs.ts";

const haveOpenssl = opensslAvailable();
if (!haveOpenssl) console.log("control-tls: skipped: openssl not found to make test certificates");
/** Skipped (reported as such, not passed) without openssl to make the certificates. */
const tlsTest = haveOpenssl ? test.serial : test.skip;

const TOKEN = "test-token-0123456789abcdef";

// Every warning this process emits. Node emits DEP0123 once per process, at the first TLS
// connection given an IP address as its server name, so any such connection made by any
// test of this file shows here.
const warnings: Error[] = [];
process.on("warning", (w) => warnings.push(w));
const dep0123 = () => warnings.filter((w) => (w as NodeJS.ErrnoException).code === "DEP0123");

interface Pki {
  dir: string;
  ca: CertFiles;
  /** Names 127.0.0.1 (IP SAN), issued by the cluster CA. */
  server: CertFiles;
  /** Issued by the cluster CA, but for 127.0.0.2 and a host name only. */
  misnamed: CertFiles;
  /** A client certificate from the cluster CA. */
  client: CertFiles;
  /** A CA that signed none of the above. */
  otherCa: CertFiles;
  tokenFile: string;
}
let pki: Pki | undefined;

test.before(() => {
  if (!haveOpenssl) return;
  const dir = mkdtempSync(join(tmpdir(), "conclave-cli-tls-"));
  const ca = makeCa(dir, "cluster-ca");
  const otherCa = makeCa(dir, "other-ca");
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  pki = {
    dir,
    ca,
    server: makeNodeCert(dir, ca, "server", ["IP:127.0.0.1", "DNS:e1"]),
    misnamed: makeNodeCert(dir, ca, "misnamed", ["IP:127.0.0.2", "DNS:e9"]),
    client: makeNodeCert(dir, ca, "client", ["DNS:cli"]),
    otherCa,
    tokenFile,
  };
});

test.after.always(() => {
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

/** A control server on 127.0.0.1 answering KvGet with "yes"; stopped at the end of the test. */
async function startServer(t: ExecutionContext, tls?: TlsFiles): Promise<string> {
  const server = new grpc.Server();
  server.addService(controlServiceDefinition(), {
    KvGet: (_call: unknown, callback: grpc.sendUnaryData<object>) =>
      callback(null, { found: true, value: "yes", revision: 1 }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", createServerCredentials(tls), (e, p) => (e ? reject(e) : resolve(p))),
  );
  t.teardown(() => server.forceShutdown());
  return `127.0.0.1:${port}`;
}

function need(): Pki {
  if (!pki) throw new Error("test certificates were not made");
  return pki;
}

/** The client's TLS files: the cluster CA (or `ca`) and the client certificate. */
function clientTls(p: Pki, ca = p.ca.cert): TlsFiles {
  return { ca, cert: p.client.cert, key: p.client.key };
}

tlsTest("a TLS call to an IP address succeeds without the DEP0123 warning", async (t) => {
  const p = need();
  const addr = await startServer(t, { ca: p.ca.cert, ...p.server });
  const api = connectControl({ addr, token: TOKEN, tls: clientTls(p), timeoutMs: 5000 });
  t.teardown(() => api.close());
  t.deepEqual(await api.kvGet("k"), { found: true, value: "yes", revision: 1 });
  // A warning is emitted on the next tick after the connection that causes it.
  await new Promise((r) => setImmediate(r));
  t.deepEqual(dep0123(), []);
});

tlsTest("a server certificate that does not name the dialled IP address is refused", async (t) => {
  const p = need();
  const addr = await startServer(t, { ca: p.ca.cert, ...p.misnamed });
  const api = connectControl({ addr, token: TOKEN, tls: clientTls(p), timeoutMs: 1000 });
  t.teardown(() => api.close());
  const e = await t.throwsAsync(api.kvGet("k"), { instanceOf: ControlError });
  t.is(e?.code, grpc.status.UNAVAILABLE);
  t.regex(e?.message ?? "", /IP: 127\.0\.0\.1 is not in the cert's list/);
  t.deepEqual(dep0123(), []);
});

tlsTest("a server certificate from another CA is refused", async (t) => {
  const p = need();
  const addr = await startServer(t, { ca: p.ca.cert, ...p.server });
  const api = connectControl({ addr, token: TOKEN, tls: clientTls(p, p.otherCa.cert), timeoutMs: 1000 });
  t.teardown(() => api.close());
  const e = await t.throwsAsync(api.kvGet("k"), { instanceOf: ControlError });
  t.is(e?.code, grpc.status.UNAVAILABLE);
  t.regex(e?.message ?? "", /self-signed certificate|unable to verify|unable to get local issuer/i);
});

tlsTest("speaksTls: true for a TLS server, false for a plaintext one and for a closed port", async (t) => {
  const p = need();
  const tls = await startServer(t, { ca: p.ca.cert, ...p.server });
  const plain = await startServer(t);
  const closed = `127.0.0.1:${await freePort()}`;
  t.true(await speaksTls(tls));
  t.false(await speaksTls(plain));
  t.false(await speaksTls(closed));
  t.deepEqual(dep0123(), []);
});

/** Run the CLI in this process, with the real control client (short deadline). */
async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    env: {},
    connect: (o) => connectControl({ ...o, timeoutMs: 500 }),
    runAgent: () => Promise.reject(new Error("not in this test")),
    runDev: () => Promise.reject(new Error("not in this test")),
  });
  return { code, out, err };
}

tlsTest("a call without --tls-* to a TLS server says it speaks TLS and names the options", async (t) => {
  const p = need();
  const addr = await startServer(t, { ca: p.ca.cert, ...p.server });
  const r = await cli(["kv", "get", "k", "--addr", addr, "--token-file", p.tokenFile]);
  t.is(r.code, 1);
  t.is(r.out, "");
  t.is(r.err, `conclave: ${tlsHint(addr)}\n`);
  t.regex(r.err, /--tls-ca FILE --tls-cert FILE --tls-key FILE/);
  // The options it names work.
  const tlsFlags = ["--tls-ca", p.ca.cert, "--tls-cert", p.client.cert, "--tls-key", p.client.key];
  const ok = await cli(["kv", "get", "k", "--addr", addr, "--token-file", p.tokenFile, ...tlsFlags]);
  t.is(ok.code, 0, ok.err);
  t.is(ok.out, "yes\n");
});

test("a call to a port where nothing listens keeps grpc-js's error, with no TLS hint", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-cli-tls-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  const addr = `127.0.0.1:${await freePort()}`;
  const r = await cli(["kv", "get", "k", "--addr", addr, "--token-file", tokenFile]);
  t.is(r.code, 1);
  t.regex(r.err, new RegExp(`^conclave: ${addr.replaceAll(".", "\\.")}: No connection established`));
  t.notRegex(r.err, /TLS/);
});

tlsTest("a call without --tls-* to a plaintext server works as before", async (t) => {
  const p = need();
  const addr = await startServer(t);
  const r = await cli(["kv", "get", "k", "--addr", addr, "--token-file", p.tokenFile]);
  t.is(r.code, 0, r.err);
  t.is(r.out, "yes\n");
});
