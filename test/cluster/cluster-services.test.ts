/**
 * Services and master failover with real processes on loopback: priority order of start,
 * promote, demote and stop; `kill -9` and SIGSTOP of a master's agent (the lease watchdog
 * demotes, and the next master is promoted only afterwards, proven from the scripts' own
 * monotonic timestamps); a planned switchover and a drain with no moment of two masters.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import type { ControlApi } from "../../src/control/control-types.ts";
import { eventsAfter, until } from "../support/cluster-wait.ts";
import { ProcessCluster } from "../support/process-cluster.ts";
import {
  FAST_MASTER_TIMING,
  masterSpans,
  overlaps,
  readRecords,
  writeService,
} from "../support/service-fixtures.ts";

async function servicesCluster(members: string[], services: { name: string; priority?: number }[]) {
  const c = await ProcessCluster.create({
    names: ["e1", "e2", "e3"],
    members,
    logLevel: "warn",
    ...FAST_MASTER_TIMING,
  });
  const log = join(c.dir, "scripts.log");
  for (const m of members) {
    const dir = join(c.dir, m, "services");
    for (const s of services) {
      writeService({
        member: m,
        service: s.name,
        servicesDir: dir,
        log,
        ...(s.priority !== undefined ? { priority: s.priority } : {}),
      });
    }
    c.setMemberExtra(m, `services_dir: ${dir}`);
  }
  return { c, log };
}

async function masterOf(api: ControlApi, service: string): Promise<string | undefined> {
  const { members } = await api.members();
  return members.find((m) => m.services[service]?.master)?.name;
}

/** Start the cluster; resolve once a master of `service` has finished its promote. */
async function startWithMaster(
  t: ExecutionContext,
  c: ProcessCluster,
  log: string,
  service = "db",
): Promise<{ api: ControlApi; first: string }> {
  c.startAll();
  const leader = await c.waitForLeader();
  const api = c.client(leader, 10_000);
  t.teardown(() => api.close());
  const first = await until("a master", () => masterOf(api, service));
  await until("its promote done", async () =>
    readRecords(log).some((r) => r.member === first && r.script === "promote" && r.phase === "end")
      ? true
      : undefined,
  );
  return { api, first };
}

test.serial("services start, promote, demote and stop in priority order", async (t) => {
  const { c, log } = await servicesCluster(
    ["m1"],
    [
      { name: "app", priority: 30 },
      { name: "db", priority: 10 },
      { name: "cache", priority: 20 },
    ],
  );
  t.teardown(() => c.destroy());
  c.startAll();
  const leader = await c.waitForLeader();
  const api = c.client(leader, 10_000);
  t.teardown(() => api.close());
  await until("three masters on m1", async () => {
    const { members } = await api.members();
    const m = members.find((x) => x.name === "m1");
    return m && ["app", "db", "cache"].every((s) => m.services[s]?.master) ? true : undefined;
  });
  await until("promotes done", async () =>
    readRecords(log).filter((r) => r.script === "promote" && r.phase === "end").length === 3
      ? true
      : undefined,
  );
  t.is(await c.terminate("m1"), 0);
  const order = (script: string) =>
    readRecords(log)
      .filter((r) => r.script === script && r.phase === "begin")
      .map((r) => r.service);
  t.deepEqual(order("start"), ["db", "cache", "app"]);
  t.deepEqual(order("promote"), ["db", "cache", "app"]);
  t.deepEqual(order("demote"), ["app", "cache", "db"]);
  t.deepEqual(order("stop"), ["app", "cache", "db"]);
  // Epochs come from the log: each service's first promotion is epoch 1.
  t.deepEqual(
    readRecords(log)
      .filter((r) => r.script === "promote" && r.phase === "begin")
      .map((r) => r.epoch),
    [1, 1, 1],
  );
});

for (const how of ["kill -9", "SIGSTOP"] as const) {
  test.serial(
    `${how} of the master's agent: the old master is demoted before the new one is promoted`,
    async (t) => {
      const { c, log } = await servicesCluster(["m1", "m2"], [{ name: "db" }]);
      t.teardown(() => c.destroy());
      const { api, first } = await startWithMaster(t, c, log);
      const before = (await eventsAfter(api)).at(-1)!.id;
      const proc = c.nodes.get(first)!.proc!;
      const t0 = performance.now();
      if (how === "kill -9") await c.kill(first);
      else proc.kill("SIGSTOP");
      const second = await until("a new master", async () => {
        const m = await masterOf(api, "db");
        return m !== undefined && m !== first ? m : undefined;
      });
      t.log(`${how}: new master ${second} after ${Math.round(performance.now() - t0)} ms`);
      await until("new promote done", async () =>
        readRecords(log).some((r) => r.member === second && r.script === "promote" && r.phase === "end")
          ? true
          : undefined,
      );
      if (how === "SIGSTOP") {
        proc.kill("SIGCONT");
        // Resumed, the old master learns it is master of nothing and must not promote again.
        // The later event: a switchover back to it, at the next epoch (3). Its agent acts on
        // that grant only after whatever it did on resuming, so a (wrong) promote of its own
        // would be in the log before the epoch-3 one.
        await until("the old master up again", async () =>
          (await api.members()).members.find((m) => m.name === first)?.status === "up" ? true : undefined,
        );
        await until("a switchover back to the old master", () => api.promote("db", first));
        await until("its epoch-3 promote done", async () =>
          readRecords(log).some(
            (r) => r.member === first && r.script === "promote" && r.phase === "end" && r.epoch === 3,
          )
            ? true
            : undefined,
        );
      }
      const records = readRecords(log);
      const spans = masterSpans(records, "db");
      t.deepEqual(
        overlaps(spans),
        [],
        JSON.stringify(records.map((r) => `${r.ns} ${r.member} ${r.script} ${r.phase} ${r.reason}`)),
      );
      const demote = records.find((r) => r.member === first && r.script === "demote" && r.phase === "end");
      t.truthy(demote, "the old master ran demote");
      t.is(demote!.reason, how === "kill -9" ? "agent-gone" : "lease-expired", "the watchdog ran it");
      t.deepEqual(
        records
          .filter((r) => r.member === first && r.script === "promote" && r.phase === "begin")
          .map((r) => r.epoch),
        how === "kill -9" ? [1] : [1, 3],
        "the old master promoted only when granted",
      );
      const events = await eventsAfter(api, before);
      const demoted = events.find((e) => e.type === "master-demoted");
      const promoted = events.find((e) => e.type === "master-promoted");
      t.is(demoted?.member, first);
      t.is(promoted?.member, second);
      t.is(promoted?.details.epoch, 2);
    },
  );
}

test.serial("a planned switchover and a drain never have two masters", async (t) => {
  const { c, log } = await servicesCluster(["m1", "m2"], [{ name: "db" }]);
  t.teardown(() => c.destroy());
  const { api, first } = await startWithMaster(t, c, log);
  const other = first === "m1" ? "m2" : "m1";
  await until("both members up", async () =>
    (await api.members()).members.filter((m) => m.status === "up").length === 2 ? true : undefined,
  );
  const s0 = process.hrtime.bigint();
  const r = await api.promote("db", other);
  const s1 = process.hrtime.bigint();
  t.is(r.previous, first);
  t.is(await masterOf(api, "db"), other);
  await until("switchover promote done", async () =>
    readRecords(log).some((x) => x.member === other && x.script === "promote" && x.phase === "end")
      ? true
      : undefined,
  );
  // A switchover to a member that cannot be master is refused with the reason.
  const bad = await api.promote("db", "nobody").then(
    () => null,
    (e: Error) => e.message,
  );
  t.regex(bad ?? "", /no member named nobody/);

  // Drain the master: the role moves back, and the drained member is reported drained.
  const d = await api.drain(other);
  t.deepEqual(d.moved, ["db"]);
  t.is(d.status, "drained");
  t.is(await masterOf(api, "db"), first);
  await until("drain promote done", async () =>
    readRecords(log).filter((x) => x.member === first && x.script === "promote" && x.phase === "end")
      .length === 2
      ? true
      : undefined,
  );
  const spans = masterSpans(readRecords(log), "db");
  t.deepEqual(overlaps(spans), []);
  // The gap without a master during the switchover is inside the switchover call itself.
  const demoteEnd = spans[0]!.to!;
  const promoteBegin = spans[1]!.from;
  t.true(demoteEnd >= s0 && promoteBegin <= s1, "the masterless gap lies within the promote call");
  t.log(
    `switchover: no master for ${Number(promoteBegin - demoteEnd) / 1e6} ms; call took ${Number(s1 - s0) / 1e6} ms`,
  );
  const u = await api.undrain(other);
  t.is(u.status, "up");
  // Undrain does not move the role back: the current master is preferred. The later event:
  // the undrained member, killed now, stays a candidate until the leader has not heard from it
  // for member_timeout, which is when it is declared down; every keeper tick until then could
  // have moved the role to it, and any such change would be committed before member-down.
  const undrained = (await eventsAfter(api)).filter((e) => e.type === "member-undrained").at(-1)!;
  await c.kill(other);
  const after = await until("the undrained member's member-down", async () => {
    const evs = await eventsAfter(api, undrained.id);
    return evs.some((e) => e.type === "member-down" && e.member === other) ? evs : undefined;
  });
  t.deepEqual(
    after.filter((e) => e.type.startsWith("master-")).map((e) => [e.type, e.member]),
    [],
    "no master change after the undrain",
  );
  t.is(await masterOf(api, "db"), first);
  const types = (await eventsAfter(api)).map((e) => e.type);
  t.true(types.includes("member-drained") && types.includes("member-undrained"));
});

test.serial("a master whose status check fails runs `failed`, is demoted, and the role moves", async (t) => {
  const c = await ProcessCluster.create({
    names: ["e1", "e2", "e3"],
    members: ["m1", "m2"],
    logLevel: "warn",
    ...FAST_MASTER_TIMING,
  });
  t.teardown(() => c.destroy());
  const log = join(c.dir, "scripts.log");
  const broken = join(c.dir, "broken");
  for (const m of ["m1", "m2"]) {
    const dir = join(c.dir, m, "services");
    writeService({
      member: m,
      service: "db",
      servicesDir: dir,
      log,
      scripts: ["start", "stop", "promote", "demote", "status", "failed"],
      // Only the member named in the flag file is broken.
      status: `! grep -qx ${m} ${broken} 2>/dev/null`,
    });
    c.setMemberExtra(m, `services_dir: ${dir}`);
  }
  const { api, first } = await startWithMaster(t, c, log);
  writeFileSync(broken, `${first}\n`);
  const second = await until(
    "a new master",
    async () => {
      const m = await masterOf(api, "db");
      return m !== undefined && m !== first ? m : undefined;
    },
    30_000,
  );
  const events = await eventsAfter(api);
  const failing = events.find((e) => e.type === "check-failing" && e.details.check === "service:db");
  t.is(failing?.member, first);
  const demoted = events.find((e) => e.type === "master-demoted");
  t.is(demoted?.details.reason, "the service's status check is failing");
  t.is((await api.members()).members.find((m) => m.name === first)!.services.db!.state, "failing");
  await until("failed ran", async () =>
    readRecords(log).some((r) => r.member === first && r.script === "failed") ? true : undefined,
  );
  await until("new promote done", async () =>
    readRecords(log).some((r) => r.member === second && r.script === "promote" && r.phase === "end")
      ? true
      : undefined,
  );
  t.deepEqual(overlaps(masterSpans(readRecords(log), "db")), []);
});
