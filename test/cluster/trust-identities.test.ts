/**
 * Node identities and roles with real processes (issue 11, the trust model; docs/security.md):
 * three electors with `cluster.auth`, members m1 and m2 each holding only its own member
 * token. Under the old shared cluster token every holder was every role and any name, so
 * each attack below was accepted; now each is refused at the edge, by role
 * (src/auth/method-roles.ts, the interceptor) or by name (the Raft `from`,
 * src/transport/raft-peer-service.ts; a member's own name, src/elector/member-service.ts):
 *
 * 1. m1's member token sends a Raft heartbeat at a much higher term: PERMISSION_DENIED, the
 *    leader's term does not move (the old token made the leader step down to that term);
 * 2. elector A's token sends a Raft heartbeat `from` elector B: PERMISSION_DENIED, term kept;
 * 3. m1's token registers, reports a failing check and says `leave` as m2: PERMISSION_DENIED,
 *    m2's committed view and the event log unchanged;
 * 4. a reader token reads (status, kv get) but cannot write (kv put: PERMISSION_DENIED
 *    naming the role operator), and the CLI says so with a nonzero exit;
 * 5. tokens made with a wrong key are UNAUTHENTICATED, on the control API, Raft and reports;
 * 6. a refusal repeated by one caller is logged once (per minute), not once per call.
 *
 * "Unchanged" is read after a later event (a committed write) or, for Raft, after the refusal:
 * the interceptor and the peer service refuse before any message reaches Raft, so once the
 * stream has ended with PERMISSION_DENIED nothing of it can arrive later.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import test from "ava";
import { decodeKey, generateKey } from "../../src/auth/auth-keys.ts";
import { mintRoleToken } from "../../src/auth/role-token.ts";
import { DEFAULT_CLUSTER_NAME } from "../../src/contract/handler-env.ts";
import { connectControl } from "../../src/control/control-client.ts";
import { ControlError, type ControlApi } from "../../src/control/control-types.ts";
import { tokenMetadata } from "../../src/rpc/grpc-auth.ts";
import { eventsAfter, membersUp, until } from "../support/cluster-wait.ts";
import { ProcessCluster } from "../support/process-cluster.ts";
import { conclave } from "../support/run-conclave.ts";
import { heartbeatFrame, rawStream } from "../unit/transport/peer-fixtures.ts";
import { MemberReportsClient, sendReports } from "../support/member-report-stream.ts";

const ELECTORS = ["e1", "e2", "e3"];
let cluster: ProcessCluster | undefined;
let api: ControlApi;

test.before(async () => {
  const c = await ProcessCluster.create({
    names: ELECTORS,
    members: ["m1", "m2"],
    roleTokens: true,
    logLevel: "info",
  });
  cluster = c;
  // m2 has a check that passes, so its committed view has something a forger could change.
  c.setMemberExtra(
    "m2",
    `checks:\n  - name: web\n    type: file_exists\n    path: ${c.dir}\n    interval: 100ms\n    rise: 1\n    fall: 1\n`,
  );
  c.startAll();
  try {
    await c.waitForLeader(45_000);
  } catch (e) {
    // Say why: the agents' last words.
    for (const n of c.nodes.values()) console.log(`--- ${n.name}\n${n.output.slice(-3000)}`);
    throw e;
  }
  api = c.client("e1", 10_000);
  await until("m1 and m2 up", () => membersUp(api, ["m1", "m2"]));
  await until("m2's web check passing", async () =>
    (await api.members()).members.find((m) => m.name === "m2")?.checks.web === "passing" ? true : undefined,
  );
});

test.after.always(async () => {
  api?.close();
  await cluster?.destroy();
});

function need(): ProcessCluster {
  if (!cluster) throw new Error("the cluster was not started");
  return cluster;
}

const addr = (name: string) => need().nodes.get(name)!.addr;

/** The leader now, its term, and the two other electors. */
async function leaderView(): Promise<{ leader: string; term: number; others: [string, string] }> {
  const s = await need().waitFor("e1", (x) => x.leader !== "");
  const others = ELECTORS.filter((n) => n !== s.leader) as [string, string];
  return { leader: s.leader, term: s.term, others };
}

/** One Raft heartbeat `from` → `to` at `term`, as a RaftPeer frame. */
const heartbeat = (from: string, to: string, term: number) =>
  heartbeatFrame(from, to, term, DEFAULT_CLUSTER_NAME);

/** m1's own credential: the token file its agent runs with. */
const m1Token = () => readFileSync(join(need().dir, "m1", "member.token"), "utf8").trim();

/** Open a member report stream at `address` presenting `token`, send `reports`, and say how it ended. */
const report = (address: string, token: string, reports: readonly object[]) =>
  sendReports(
    new MemberReportsClient(address, grpc.credentials.createInsecure()),
    tokenMetadata(token),
    reports,
  );

/** A registration as `name` whose web check is failing. */
const registerAs = (name: string) => ({
  register: { name, address: "127.0.0.1:1", services: [], checks: { web: "failing" } },
});

/** The warning lines of `node`'s log that include every one of `texts`. */
function logLines(node: string, ...texts: string[]): string[] {
  return need()
    .nodes.get(node)!
    .output.split("\n")
    .filter((l) => l.includes('"level":40') && texts.every((x) => l.includes(x)));
}

test.serial(
  "a forged Raft heartbeat sent with member m1's token is refused and the term is unchanged",
  async (t) => {
    const before = await leaderView();
    const forged = heartbeat(before.others[0], before.leader, before.term + 1000);
    const r = await rawStream(addr(before.leader), [forged], tokenMetadata(m1Token()));
    t.is(r.code, grpc.status.PERMISSION_DENIED);
    t.is(r.details, "needs role elector; called as member/m1");
    const after = await leaderView();
    t.is(after.term, before.term, "the leader did not step down to the forged term");
    t.is(after.leader, before.leader);
  },
);

test.serial(
  "elector A's token sending a Raft message from elector B is refused and the term is unchanged",
  async (t) => {
    const before = await leaderView();
    const [a, b] = before.others;
    const forged = heartbeat(b, before.leader, before.term + 1000);
    const r = await rawStream(addr(before.leader), [forged], tokenMetadata(need().roleToken("elector", a)));
    t.is(r.code, grpc.status.PERMISSION_DENIED);
    t.is(r.details, `elector/${a} may not send Raft messages from ${b}`);
    const after = await leaderView();
    t.is(after.term, before.term, "the forged heartbeat did not reach Raft");
    t.is(after.leader, before.leader);
  },
);

test.serial(
  "member m1's token cannot register, report or leave as m2; m2's committed state is unchanged",
  async (t) => {
    const c = need();
    const { leader } = await leaderView();
    // Read on the leader: what it applied when the later write returned is all it could apply.
    const onLeader = c.client(leader, 10_000);
    t.teardown(() => onLeader.close());
    const since = (await eventsAfter(onLeader)).at(-1)!.id;
    const m2Before = (await onLeader.members()).members.find((m) => m.name === "m2")!;
    t.is(m2Before.status, "up");
    t.is(m2Before.checks.web, "passing");

    const reported = await report(addr(leader), m1Token(), [
      registerAs("m2"),
      { check: { name: "web", state: "failing", detail: "forged by m1" } },
    ]);
    t.is(reported.code, grpc.status.PERMISSION_DENIED);
    t.is(reported.details, "member/m1 may not register as member m2");
    t.deepEqual(reported.replies, [], "no acknowledgement");
    const left = await report(addr(leader), m1Token(), [registerAs("m2"), { leave: {} }]);
    t.is(left.code, grpc.status.PERMISSION_DENIED);
    t.is(left.details, "member/m1 may not register as member m2");

    // A later event: a write proposed on the leader after both refusals, and committed. Anything
    // the forged streams had made the leader propose (check-failing, member-left) came first.
    await onLeader.kvPut("trust/after-forgery", "1");
    t.true((await onLeader.kvGet("trust/after-forgery")).found, "the later write is applied");
    t.deepEqual(
      (await eventsAfter(onLeader, since)).filter((e) => e.member === "m2"),
      [],
      "no event for m2: neither check-failing nor member-left",
    );
    t.deepEqual(
      (await onLeader.members()).members.find((m) => m.name === "m2"),
      m2Before,
    );
    t.is((await onLeader.members()).members.find((m) => m.name === "m1")?.status, "up", "m1 is unaffected");
  },
);

test.serial(
  "a reader token reads status and kv but cannot write: PERMISSION_DENIED naming operator",
  async (t) => {
    const c = need();
    await api.kvPut("trust/read-me", "before");
    const readerFile = join(c.dir, "reader-grafana.token");
    writeFileSync(readerFile, `${c.roleToken("reader", "grafana")}\n`, { mode: 0o600 });
    const flags = ["--addr", addr("e2"), "--token-file", readerFile];

    const status = await conclave(["status", "--json", ...flags]);
    t.is(status.code, 0, status.stderr);
    t.true(ELECTORS.includes((JSON.parse(status.stdout) as { leader: string }).leader));
    const get = await conclave(["kv", "get", "trust/read-me", ...flags]);
    t.is(get.code, 0, get.stderr);
    t.is(get.stdout, "before\n");

    const put = await conclave(["kv", "put", "trust/read-me", "after", ...flags]);
    t.not(put.code, 0);
    t.is(put.stdout, "");
    t.regex(put.stderr, /^conclave: .*needs role operator; called as reader\/grafana/m);
    t.log(`kv put as reader: exit ${put.code}: ${put.stderr.trim()}`);

    const reader = connectControl({
      addr: addr("e3"),
      token: c.roleToken("reader", "grafana"),
      timeoutMs: 5000,
    });
    t.teardown(() => reader.close());
    const err = await t.throwsAsync(reader.kvPut("trust/read-me", "after"), { instanceOf: ControlError });
    t.is(err?.code, grpc.status.PERMISSION_DENIED);
    t.regex(err?.message ?? "", /needs role operator; called as reader\/grafana$/);
    t.is((await reader.kvGet("trust/read-me")).value, "before", "the value is unchanged");
  },
);

test.serial(
  "tokens made with a wrong key are UNAUTHENTICATED on control, Raft and member reports",
  async (t) => {
    const c = need();
    const wrongKey = decodeKey(generateKey(), "a wrong key") as Buffer;
    const forgedFile = join(c.dir, "forged-admin.token");
    writeFileSync(forgedFile, `${mintRoleToken(wrongKey, "operator", "admin")}\n`, { mode: 0o600 });
    const cli = await conclave(["status", "--addr", addr("e1"), "--token-file", forgedFile]);
    t.is(cli.code, 1);
    t.regex(cli.stderr, /refused the call: missing or wrong cluster token/);

    const before = await leaderView();
    const raft = await rawStream(
      addr(before.leader),
      [heartbeat(before.others[0], before.leader, before.term + 1000)],
      tokenMetadata(mintRoleToken(wrongKey, "elector", before.others[0])),
    );
    t.is(raft.code, grpc.status.UNAUTHENTICATED);
    t.is(raft.details, "missing or wrong cluster token");
    t.is((await leaderView()).term, before.term);

    const member = await report(addr(before.leader), mintRoleToken(wrongKey, "member", "m2"), [
      registerAs("m2"),
    ]);
    t.is(member.code, grpc.status.UNAUTHENTICATED);
    // A member token made with the operators' key (a key of the wrong role) proves nothing either.
    const crossed = await report(addr(before.leader), mintRoleToken(c.keys!.keys.operators, "member", "m2"), [
      registerAs("m2"),
    ]);
    t.is(crossed.code, grpc.status.UNAUTHENTICATED);
  },
);

test.serial("a refusal repeated by one caller is logged once, not once per call", async (t) => {
  const c = need();
  const { leader, term, others } = await leaderView();
  const [a, b] = others;
  const times = 5;
  const asMember = (name: string) => tokenMetadata(c.roleToken("member", name));
  for (let i = 0; i < times; i++) {
    // By role (the interceptor): a member on the Raft service.
    t.is(
      (await rawStream(addr(leader), [heartbeat(a, leader, term)], asMember("m9"))).code,
      grpc.status.PERMISSION_DENIED,
    );
    // By name (the peer service): elector a speaking for b.
    t.is(
      (await rawStream(addr(leader), [heartbeat(b, leader, term)], tokenMetadata(c.roleToken("elector", a))))
        .code,
      grpc.status.PERMISSION_DENIED,
    );
    // By name (the member service): m1 registering as m2.
    t.is((await report(addr(leader), m1Token(), [registerAs("m2")])).code, grpc.status.PERMISSION_DENIED);
    // No credential: one host, a new connection (and port) each time.
    t.is((await rawStream(addr(leader), [], tokenMetadata("not-a-token"))).code, grpc.status.UNAUTHENTICATED);
  }
  // A marker refused after all of them, under new keys: once its lines are in the log, so is
  // every line the refusals above could have written (one process, one ordered stdout).
  await rawStream(addr(leader), [heartbeat(a, leader, term)], asMember("m10"));
  await rawStream(addr(leader), [heartbeat("e9", leader, term)], tokenMetadata(c.roleToken("elector", a)));
  await report(addr(leader), m1Token(), [registerAs("m9")]);
  await until("the markers' log lines", async () =>
    logLines(leader, "called as member/m10").length === 1 &&
    logLines(leader, "may not send Raft messages from e9").length === 1 &&
    logLines(leader, "member/m1 may not register as member m9").length === 1
      ? true
      : undefined,
  );
  const output = () => c.nodes.get(leader)!.output;
  t.is(logLines(leader, "needs role elector; called as member/m9").length, 1, output());
  // Earlier tests' refusals under the same keys fall in the same minute: still one line.
  t.is(logLines(leader, `elector/${a} may not send Raft messages from ${b}`).length, 1, output());
  t.is(logLines(leader, "member/m1 may not register as member m2").length, 1, output());
  t.is(
    logLines(leader, "missing or wrong cluster token", "/conclave.raft.RaftPeer/Stream").length,
    1,
    output(),
  );
});
