/**
 * Multi-process: member agents report to the leader; `kill -9` of a member is committed
 * as exactly one member-down (and member-up when it returns); a leader failover with every
 * member alive produces no member-down; a member stopped with SIGTERM leaves (member-left);
 * the event log's hash chain verifies.
 */
import test from "ava";
import { clusterUp, eventsAfter as events, membersUp, until } from "../support/cluster-wait.ts";
import { ProcessCluster } from "../support/process-cluster.ts";

test.serial("kill -9 of a member: one member-down, then member-up when it returns", async (t) => {
  const { c, api } = await clusterUp(t, {
    names: ["e1", "e2", "e3"],
    members: ["m1", "m2"],
    logLevel: "warn",
  });
  const mark = (await events(api)).at(-1)!.id;

  await c.kill("m1");
  const down = await until("member-down", async () => {
    const evs = (await events(api, mark)).filter((e) => e.type === "member-down");
    return evs.length > 0 ? evs : undefined;
  });
  t.deepEqual(
    down.map((e) => e.member),
    ["m1"],
  );
  // A later member-down from the same detector: m2's, decided a full member_timeout after m2
  // went silent, so the detector has judged m1 (still silent) on every tick in between. A
  // (wrong) second member-down of m1 would be committed before m2's.
  await c.kill("m2");
  await until("m2's member-down", async () =>
    (await events(api, mark)).some((e) => e.type === "member-down" && e.member === "m2") ? true : undefined,
  );
  t.deepEqual(
    (await events(api, mark)).filter((e) => e.type === "member-down").map((e) => e.member),
    ["m1", "m2"],
  );

  c.start("m1");
  c.start("m2");
  await until("member-up", async () => {
    const ups = (await events(api, mark)).filter((e) => e.type === "member-up").map((e) => e.member);
    return ups.includes("m1") && ups.includes("m2") ? true : undefined;
  });
  t.deepEqual(
    (await events(api, mark)).filter((e) => e.type === "member-down").map((e) => e.member),
    ["m1", "m2"],
    "still one member-down each",
  );
  t.is(((await api.status()).members as { up: number }).up, 2);
  const audit = await api.auditVerify();
  t.true(audit.ok, audit.reason);
  t.true(audit.checked > 3);
});

test.serial("a leader failover with every member alive produces no member-down", async (t) => {
  const c = await ProcessCluster.create({
    names: ["e1", "e2", "e3"],
    members: ["m1", "m2", "m3"],
    logLevel: "warn",
  });
  t.teardown(() => c.destroy());
  c.startAll();
  const leader = await c.waitForLeader();
  const survivor = ["e1", "e2", "e3"].find((n) => n !== leader)!;
  const api = c.client(survivor, 10_000);
  t.teardown(() => api.close());
  await until("members up", () => membersUp(api, ["m1", "m2", "m3"]));
  const mark = (await events(api)).at(-1)!.id;

  await c.kill(leader);
  const next = await c.waitFor(survivor, (s) => s.leader !== "" && s.leader !== leader, 15_000);
  t.not(next.leader, leader);
  // The later event: m3, killed now, is declared down by the new leader no earlier than a full
  // member_timeout after it took over (its grace period), which is also the earliest a (wrong)
  // member-down of m1 or m2 could come. Members are judged in name order on each tick, so any
  // such member-down would be proposed, and committed, before m3's.
  await c.kill("m3");
  const after = await until("m3's member-down under the new leader", async () => {
    const evs = await events(api, mark);
    return evs.some((e) => e.type === "member-down" && e.member === "m3") ? evs : undefined;
  });
  t.deepEqual(
    after.filter((e) => e.type === "member-down").map((e) => e.member),
    ["m3"],
    "no member-down but m3's",
  );
  t.true(
    after.some((e) => e.type === "leader-elected"),
    "the new leader recorded leader-elected",
  );
  await until("members up under the new leader", () => membersUp(api, ["m1", "m2"]));
  t.deepEqual(
    (await events(api, mark)).filter((e) => e.type === "member-down").map((e) => e.member),
    ["m3"],
  );
});

test.serial("a member stopped with SIGTERM leaves gracefully (member-left, not member-down)", async (t) => {
  const c = await ProcessCluster.create({
    names: ["e1", "e2", "e3"],
    members: ["m1", "m2"],
    logLevel: "warn",
  });
  t.teardown(() => c.destroy());
  c.startAll();
  await c.waitForLeader();
  const api = c.client("e2", 10_000);
  t.teardown(() => api.close());
  await until("members up", () => membersUp(api, ["m1", "m2"]));
  const mark = (await events(api)).at(-1)!.id;
  t.is(await c.terminate("m1"), 0);
  await until("member-left", async () =>
    (await events(api, mark)).some((e) => e.type === "member-left") ? true : undefined,
  );
  // The later event: m2, killed after m1 left, is declared down a member_timeout after its
  // last report, later than a (wrong) member-down of m1 (silent since before its goodbye)
  // could be, and m1 is judged before m2 on each tick.
  await c.kill("m2");
  await until("m2's member-down", async () =>
    (await events(api, mark)).some((e) => e.type === "member-down" && e.member === "m2") ? true : undefined,
  );
  t.deepEqual(
    (await events(api, mark)).map((e) => [e.type, e.member]),
    [
      ["member-left", "m1"],
      ["member-down", "m2"],
    ],
  );
});

test.serial("a member with a wrong token is refused, and the refusal is logged on the elector", async (t) => {
  const c = await ProcessCluster.create({
    names: ["e1", "e2", "e3"],
    members: ["m1", "m2"],
    logLevel: "info",
  });
  t.teardown(() => c.destroy());
  const m1 = c.nodes.get("m1")!;
  const wrong = `${c.dir}/wrong-token`;
  const { readFileSync, writeFileSync } = await import("node:fs");
  writeFileSync(wrong, "definitely-not-the-token-42\n", { mode: 0o600 });
  writeFileSync(m1.configFile, readFileSync(m1.configFile, "utf8").replace(c.tokenFile, wrong));
  for (const e of ["e1", "e2", "e3"]) c.start(e);
  c.start("m1");
  await c.waitForLeader();
  const api = c.client("e1", 10_000);
  t.teardown(() => api.close());
  const electorLogs = () => ["e1", "e2", "e3"].map((n) => c.nodes.get(n)!.output).join("\n");
  await until("the refusal, logged on both sides", async () =>
    /refused gRPC call: missing or wrong cluster token/.test(electorLogs()) &&
    /refused this member: missing or wrong cluster token/.test(m1.output)
      ? true
      : undefined,
  );
  // The later event: m2, with the right token, started after m1 was refused, joins. Had m1
  // registered despite the refusal, it would be in the member view before m2 is.
  c.start("m2");
  await until("m2 joined", () => membersUp(api, ["m2"]));
  t.deepEqual(
    (await api.members()).members.map((m) => m.name),
    ["m2"],
    "the member with the wrong token never registered",
  );
  t.deepEqual(
    (await events(api)).filter((e) => e.type === "member-joined").map((e) => e.member),
    ["m2"],
  );
  t.regex(
    electorLogs(),
    /MemberReports\/Report.*refused gRPC call: missing or wrong cluster token|refused gRPC call: missing or wrong cluster token/,
  );
  t.regex(m1.output, /refused this member: missing or wrong cluster token/);
});
