/**
 * `conclave` and the agents with mutual TLS on 127.0.0.1 (certificates naming the address as
 * an IP SAN): no `[DEP0123]` warning from the CLI, from a member dialling an elector or from
 * an elector forwarding a write to the leader, while a certificate from another CA is still
 * refused; and a CLI call without `--tls-*` says that the cluster speaks TLS and which
 * options to pass (docs/cli.md, connecting).
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { tlsHint } from "../../src/cli/program.ts";
import type { CertFiles } from "../fixtures/make-test-certs.ts";
import { makeCa, makeNodeCert, opensslAvailable } from "../fixtures/make-test-certs.ts";
import { ProcessCluster } from "../support/process-cluster.ts";
import { conclave } from "../support/run-conclave.ts";

const haveOpenssl = opensslAvailable();
if (!haveOpenssl) console.log("cli-tls: skipped: openssl not found to make test certificates");
/** Skipped (reported as such, not passed) without openssl to make the certificates. */
const tlsTest = haveOpenssl ? test.serial : test.skip;

const ELECTORS = ["t1", "t2", "t3"];
let cluster: ProcessCluster | undefined;
let certs: Record<string, CertFiles>;
let ca: CertFiles;
let rogueCa: CertFiles;

test.before(async () => {
  if (!haveOpenssl) return;
  const dir = mkdtempSync(join(tmpdir(), "conclave-cli-tls-"));
  ca = makeCa(dir, "cluster-ca");
  rogueCa = makeCa(dir, "rogue-ca");
  certs = Object.fromEntries(
    [...ELECTORS, "m1", "operator"].map((n) => [n, makeNodeCert(dir, ca, n, [`DNS:${n}`, "IP:127.0.0.1"])]),
  );
  cluster = await ProcessCluster.create({
    names: ELECTORS,
    members: ["m1"],
    tls: { ca: ca.cert, nodes: certs },
    logLevel: "info",
  });
  cluster.startAll();
  await cluster.waitForLeader(20_000);
});

test.after.always(async () => {
  await cluster?.destroy();
});

function need(): ProcessCluster {
  if (!cluster) throw new Error("the TLS cluster was not started");
  return cluster;
}

/** A follower of the cluster: a write there is forwarded to the leader over TLS. */
async function follower(c: ProcessCluster): Promise<string> {
  const leader = await c.waitForLeader(20_000);
  return ELECTORS.find((n) => n !== leader)!;
}

const base = (c: ProcessCluster, node: string) => [
  "--addr",
  c.nodes.get(node)!.addr,
  "--token-file",
  c.tokenFile,
];
const tlsFlags = (caFile = ca.cert) => [
  "--tls-ca",
  caFile,
  "--tls-cert",
  certs.operator!.cert,
  "--tls-key",
  certs.operator!.key,
];

tlsTest("CLI calls over TLS to an IP address succeed and print no DEP0123 warning", async (t) => {
  const c = need();
  const node = await follower(c);
  const put = await conclave(["kv", "put", "tls", "yes", ...base(c, node), ...tlsFlags()]);
  t.is(put.code, 0, put.stderr);
  t.is(put.stderr, "");
  const get = await conclave(["kv", "get", "tls", ...base(c, node), ...tlsFlags()]);
  t.is(get.code, 0, get.stderr);
  t.is(get.stdout, "yes\n");
  t.is(get.stderr, "");
});

tlsTest("a member on TLS and an elector forwarding over TLS print no DEP0123 warning", async (t) => {
  const c = need();
  // The member is up: its link to the electors, dialled by IP address, made TLS connections.
  await c.waitFor("t1", (s) => s.members.up === 1, 20_000);
  // The previous test's write went through a follower: it forwarded it to the leader.
  const warned = [...c.nodes.values()].filter((n) => /DEP0123|TLS ServerName/.test(n.output));
  t.deepEqual(
    warned.map((n) => n.name),
    [],
  );
});

tlsTest("a CLI call trusting another CA is refused", async (t) => {
  const c = need();
  const r = await conclave(["kv", "get", "tls", ...base(c, "t1"), ...tlsFlags(rogueCa.cert)]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^conclave: .*(self-signed certificate|unable to verify|unable to get local issuer)/im);
});

tlsTest("status without --tls-* says the cluster speaks TLS and names the options", async (t) => {
  const c = need();
  const addr = c.nodes.get("t1")!.addr;
  const r = await conclave(["status", ...base(c, "t1")]);
  t.is(r.code, 1);
  t.is(r.stdout, "");
  t.is(r.stderr, `conclave: ${tlsHint(addr)}\n`);
  t.regex(r.stderr, /--tls-ca FILE --tls-cert FILE --tls-key FILE/);
});
