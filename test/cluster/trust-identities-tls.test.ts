/**
 * Node identities from certificates with real processes (issue 11; docs/security.md): the
 * certificates are made by deploy/tls-bootstrap.sh with role prefixes (`elector/e1=127.0.0.1`,
 * `member/m1=127.0.0.1`: URI SANs `conclave://ROLE/NAME`), electors run with `cluster.auth`
 * and mutual TLS, and a certificate's identity wins over any token the caller also presents.
 * Under the old shared token any certificate of the cluster CA plus the token was every role
 * and any name; now:
 *
 * 1. a member's certificate cannot act as an elector in Raft (PERMISSION_DENIED, even with a
 *    valid elector token beside it), and the leader's term does not move;
 * 2. elector A's certificate cannot send Raft messages from elector B (PERMISSION_DENIED,
 *    even with B's token beside it), and the term does not move;
 * 3. a member's certificate cannot report as another member (PERMISSION_DENIED), and that
 *    member's committed view is unchanged after a later committed write;
 * 4. with the CLI, a reader's certificate reads but cannot write, even beside an operator's
 *    token, and an operator's certificate writes.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import test from "ava";
import { DEFAULT_CLUSTER_NAME } from "../../src/contract/handler-env.ts";
import type { ControlApi } from "../../src/control/control-types.ts";
import { createChannelOptions } from "../../src/rpc/channel-options.ts";
import { tokenMetadata } from "../../src/rpc/grpc-auth.ts";
import { createClientCredentials, serverNameOptions, type TlsFiles } from "../../src/rpc/grpc-credentials.ts";
import { eventsAfter, membersUp, until } from "../support/cluster-wait.ts";
import { ProcessCluster } from "../support/process-cluster.ts";
import { conclave } from "../support/run-conclave.ts";
import { opensslAvailable } from "../fixtures/make-test-certs.ts";
import { heartbeatFrame, rawStreamOn } from "../unit/transport/peer-fixtures.ts";
import { MemberReportsClient, sendReports } from "../support/member-report-stream.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SCRIPT = join(ROOT, "deploy/tls-bootstrap.sh");

const haveOpenssl = opensslAvailable();
if (!haveOpenssl)
  console.log("trust-identities-tls: skipped: openssl not found (deploy/tls-bootstrap.sh needs it)");
/** Skipped (reported as such, not passed) without openssl to make the certificates. */
const tlsTest = haveOpenssl ? test.serial : test.skip;

const ELECTORS = ["e1", "e2", "e3"];
const MEMBERS = ["m1", "m2"];
let cluster: ProcessCluster | undefined;
let api: ControlApi;
let pki: string;

test.before(async () => {
  if (!haveOpenssl) return;
  pki = mkdtempSync(join(tmpdir(), "conclave-trust-tls-"));
  execFileSync(SCRIPT, [
    pki,
    ...ELECTORS.map((n) => `elector/${n}=127.0.0.1`),
    ...MEMBERS.map((n) => `member/${n}=127.0.0.1`),
  ]);
  // CLI client certificates, signed later with the same CA as docs/security.md shows.
  execFileSync(SCRIPT, ["--add", pki, "operator/alice", "reader/grafana"]);
  const nodes = Object.fromEntries(
    [...ELECTORS, ...MEMBERS].map((n) => [
      n,
      { cert: join(pki, `${n}.pem`), key: join(pki, `${n}-key.pem`) },
    ]),
  );
  const c = await ProcessCluster.create({
    names: ELECTORS,
    members: MEMBERS,
    roleTokens: true,
    tls: { ca: join(pki, "ca.pem"), nodes },
    logLevel: "info",
  });
  cluster = c;
  c.startAll();
  try {
    await c.waitForLeader(45_000);
  } catch (e) {
    // Say why: the agents' last words.
    for (const n of c.nodes.values()) console.log(`--- ${n.name}\n${n.output.slice(-3000)}`);
    throw e;
  }
  api = c.client("e1", 10_000);
  // The members registered over TLS with their certificates: the certificates are accepted.
  await until("m1 and m2 up", () => membersUp(api, MEMBERS));
});

test.after.always(async () => {
  api?.close();
  await cluster?.destroy();
  if (pki) rmSync(pki, { recursive: true, force: true });
});

function need(): ProcessCluster {
  if (!cluster) throw new Error("the TLS cluster was not started");
  return cluster;
}

const addr = (name: string) => need().nodes.get(name)!.addr;

/** The TLS files of `name`'s certificate, as tls-bootstrap.sh wrote them. */
const certOf = (name: string): TlsFiles => ({
  ca: join(pki, "ca.pem"),
  cert: join(pki, `${name}.pem`),
  key: join(pki, `${name}-key.pem`),
});

/** A gRPC client to `address` presenting `name`'s certificate. */
function tlsClient<C extends grpc.Client>(
  Ctor: new (address: string, creds: grpc.ChannelCredentials, options: grpc.ChannelOptions) => C,
  address: string,
  name: string,
): C {
  const tls = certOf(name);
  return new Ctor(address, createClientCredentials(tls, { address }), {
    ...createChannelOptions(),
    ...serverNameOptions(address, tls),
  });
}

/** The leader now, its term, and the two other electors. */
async function leaderView(): Promise<{ leader: string; term: number; others: [string, string] }> {
  const s = await need().waitFor("e1", (x) => x.leader !== "");
  const others = ELECTORS.filter((n) => n !== s.leader) as [string, string];
  return { leader: s.leader, term: s.term, others };
}

/** One RaftPeer stream of `frames` presenting `certName`'s certificate (and `md`); its final status. */
const raftAs = (address: string, certName: string, frames: readonly Buffer[], md = new grpc.Metadata()) =>
  rawStreamOn(tlsClient(grpc.Client, address, certName), frames, md);

/** One Raft heartbeat `from` → `to` at `term`, as a RaftPeer frame. */
const heartbeat = (from: string, to: string, term: number) =>
  heartbeatFrame(from, to, term, DEFAULT_CLUSTER_NAME);

/** A member report stream presenting `certName`'s certificate: send `reports`, say how it ended. */
const reportAs = (address: string, certName: string, reports: readonly object[]) =>
  sendReports(tlsClient(MemberReportsClient, address, certName), new grpc.Metadata(), reports);

tlsTest("a member's certificate cannot act as an elector in Raft; the term is unchanged", async (t) => {
  const c = need();
  const before = await leaderView();
  const forged = heartbeat(before.others[0], before.leader, before.term + 1000);
  const bare = await raftAs(addr(before.leader), "m1", [forged]);
  t.is(bare.code, grpc.status.PERMISSION_DENIED);
  t.is(bare.details, "needs role elector; called as member/m1");
  // The certificate names the caller: an elector's token beside it changes nothing.
  const withToken = await raftAs(
    addr(before.leader),
    "m1",
    [forged],
    tokenMetadata(c.roleToken("elector", before.others[0])),
  );
  t.is(withToken.code, grpc.status.PERMISSION_DENIED);
  t.is(withToken.details, "needs role elector; called as member/m1");
  const after = await leaderView();
  t.is(after.term, before.term, "the leader did not step down to the forged term");
  t.is(after.leader, before.leader);
});

tlsTest(
  "elector A's certificate cannot send Raft messages from elector B; the term is unchanged",
  async (t) => {
    const c = need();
    const before = await leaderView();
    const [a, b] = before.others;
    const forged = heartbeat(b, before.leader, before.term + 1000);
    const bare = await raftAs(addr(before.leader), a, [forged]);
    t.is(bare.code, grpc.status.PERMISSION_DENIED);
    t.is(bare.details, `elector/${a} may not send Raft messages from ${b}`);
    const withToken = await raftAs(
      addr(before.leader),
      a,
      [forged],
      tokenMetadata(c.roleToken("elector", b)),
    );
    t.is(withToken.code, grpc.status.PERMISSION_DENIED);
    t.is(withToken.details, `elector/${a} may not send Raft messages from ${b}`);
    const after = await leaderView();
    t.is(after.term, before.term, "the forged heartbeat did not reach Raft");
    t.is(after.leader, before.leader);
    // A's own messages are its to send: the refusal is about the name, and the cluster is whole.
    t.is(after.term, (await c.waitFor(a, (s) => s.leader === before.leader)).term);
  },
);

tlsTest(
  "a member's certificate cannot report as another member; its committed state is unchanged",
  async (t) => {
    const c = need();
    const { leader } = await leaderView();
    const onLeader = c.client(leader, 10_000);
    t.teardown(() => onLeader.close());
    const since = (await eventsAfter(onLeader)).at(-1)!.id;
    const m2Before = (await onLeader.members()).members.find((m) => m.name === "m2")!;
    t.is(m2Before.status, "up");

    const forged = await reportAs(addr(leader), "m1", [
      { register: { name: "m2", address: "127.0.0.1:1", services: [], checks: { web: "failing" } } },
      { check: { name: "web", state: "failing", detail: "forged by m1" } },
      { leave: {} },
    ]);
    t.is(forged.code, grpc.status.PERMISSION_DENIED);
    t.is(forged.details, "member/m1 may not register as member m2");
    t.deepEqual(forged.replies, [], "no acknowledgement");

    // A later event: a write committed after the refusal; nothing for m2 came before it.
    await onLeader.kvPut("trust/after-forgery", "1");
    t.true((await onLeader.kvGet("trust/after-forgery")).found);
    t.deepEqual(
      (await eventsAfter(onLeader, since)).filter((e) => e.member === "m2"),
      [],
    );
    t.deepEqual(
      (await onLeader.members()).members.find((m) => m.name === "m2"),
      m2Before,
    );
  },
);

tlsTest(
  "the CLI with a reader's certificate reads but cannot write, even with an operator's token",
  async (t) => {
    const c = need();
    // The token file is operator admin's: the certificate names the caller, so it does not count.
    const as = (name: string) => [
      "--addr",
      addr("e2"),
      "--token-file",
      c.tokenFile,
      "--tls-ca",
      join(pki, "ca.pem"),
      "--tls-cert",
      join(pki, `${name}.pem`),
      "--tls-key",
      join(pki, `${name}-key.pem`),
    ];
    const put = await conclave(["kv", "put", "trust/cli", "alice", ...as("alice")]);
    t.is(put.code, 0, put.stderr);
    const get = await conclave(["kv", "get", "trust/cli", ...as("grafana")]);
    t.is(get.code, 0, get.stderr);
    t.is(get.stdout, "alice\n");
    const refused = await conclave(["kv", "put", "trust/cli", "grafana", ...as("grafana")]);
    t.is(refused.code, 1);
    t.is(refused.stdout, "");
    t.regex(refused.stderr, /^conclave: .*needs role operator; called as reader\/grafana$/m);
    t.is((await conclave(["kv", "get", "trust/cli", ...as("alice")])).stdout, "alice\n", "unchanged");
  },
);
