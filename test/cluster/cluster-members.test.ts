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
  // Give the detector time to (wrongly) fire again: still exactly one.
  await new Promise((r) => setTimeout(r, 2000));
  t.is((await events(api, mark)).filter((e) => e.type === "member-down").length, 1);

  c.start("m1");
  await until("member-up", async () =>
    (await events(api, mark)).some((e) => e.type === "member-up" && e.member === "m1") ? true : undefined,
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
  // Wait well past member_timeout (1.5 s) under the new leader.
  await new Promise((r) => setTimeout(r, 4000));
  const after = await events(api, mark);
  t.deepEqual(
    after.filter((e) => e.type === "member-down").map((e) => e.member),
    [],
  );
  t.true(
    after.some((e) => e.type === "leader-elected"),
    "the new leader recorded leader-elected",
  );
  await until("members up under the new leader", () => membersUp(api, ["m1", "m2", "m3"]));
});

test.serial("a member stopped with SIGTERM leaves gracefully (member-left, not member-down)", async (t) => {
  const c = await ProcessCluster.create({ names: ["e1", "e2", "e3"], members: ["m1"], logLevel: "warn" });
  t.teardown(() => c.destroy());
  c.startAll();
  await c.waitForLeader();
  const api = c.client("e2", 10_000);
  t.teardown(() => api.close());
  await until("member up", () => membersUp(api, ["m1"]));
  const mark = (await events(api)).at(-1)!.id;
  t.is(await c.terminate("m1"), 0);
  await until("member-left", async () =>
    (await events(api, mark)).some((e) => e.type === "member-left") ? true : undefined,
  );
  await new Promise((r) => setTimeout(r, 2500));
  t.deepEqual(
    (await events(api, mark)).map((e) => [e.type, e.member]),
    [["member-left", "m1"]],
  );
});

test.serial("a member with a wrong token is refused, and the refusal is logged on the elector", async (t) => {
  const c = await ProcessCluster.create({ names: ["e1", "e2", "e3"], members: ["m1"], logLevel: "info" });
  t.teardown(() => c.destroy());
  const m1 = c.nodes.get("m1")!;
  const wrong = `${c.dir}/wrong-token`;
  const { readFileSync, writeFileSync } = await import("node:fs");
  writeFileSync(wrong, "definitely-not-the-token-42\n");
  writeFileSync(m1.configFile, readFileSync(m1.configFile, "utf8").replace(c.tokenFile, wrong));
  c.startAll();
  await c.waitForLeader();
  await new Promise((r) => setTimeout(r, 2500));
  const api = c.client("e1", 10_000);
  t.teardown(() => api.close());
  t.deepEqual((await api.members()).members, [], "the member never registered");
  const electorLogs = ["e1", "e2", "e3"].map((n) => c.nodes.get(n)!.output).join("\n");
  t.regex(
    electorLogs,
    /MemberReports\/Report.*refused gRPC call: missing or wrong cluster token|refused gRPC call: missing or wrong cluster token/,
  );
  t.regex(m1.output, /refused this member: missing or wrong cluster token/);
});
