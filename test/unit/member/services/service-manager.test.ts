/**
 * The member's service manager with a hand-driven monotonic clock, real tiny shell scripts that
 * append `SERVICE SCRIPT EPOCH REASON` to a log, and a fake lease guard: start/stop order,
 * promote/demote order and epochs, grants that come too late or are stale, lease expiry, a
 * failed promote, and what the watchdog is told.
 */
import test, { type ExecutionContext } from "ava";
import {
  appendFileSync,
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import type { LeaseGuard } from "../../../../src/process/lease-watchdog.ts";
import { demoteBudgetMs, selfDemoteAfterMs, watchdogSlackMs } from "../../../../src/contract/master-lease.ts";
import { type MasterGrants, ServiceManager } from "../../../../src/member/services/service-manager.ts";
import { readServicesDir } from "../../../../src/member/services/services-dir.ts";
import { waitFor } from "../../../support/poll.ts";

interface ServiceSpec {
  name: string;
  priority: number;
  /** Exit code of `promote` (default 0). */
  promoteExit?: number;
  /** Extra shell run by `promote` between its log line and its exit (e.g. `sleep 5`). */
  promoteBody?: string;
}

type GuardCall =
  | { kind: "renew"; deadlineMs: number; budgetMs: number; masters: string[] }
  | { kind: "idle" }
  | { kind: "stop" };

const SCRIPTS = ["start", "stop", "promote", "demote", "failed"] as const;

/** A long lease for tests that do not want the expiry timer to fire. */
const LONG_LEASE = 60_000;

function setup(t: ExecutionContext, specs: ServiceSpec[]) {
  const root = mkdtempSync(join(tmpdir(), "conclave-service-manager-"));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const log = join(root, "log");
  writeFileSync(log, "");
  const servicesDir = join(root, "services");
  for (const spec of specs) {
    const dir = join(servicesDir, spec.name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "priority"), `${spec.priority}\n`);
    for (const script of SCRIPTS) {
      const line = `echo "$CONCLAVE_SERVICE ${script} \${CONCLAVE_EPOCH:-} \${CONCLAVE_REASON:-}" >> '${log}'`;
      const body = (spec.promoteBody ?? "").replaceAll("{LOG}", `'${log}'`);
      const extra = script === "promote" ? `${body}\nexit ${spec.promoteExit ?? 0}` : "";
      writeFileSync(join(dir, script), `#!/bin/sh\n${line}\n${extra}\n`);
      chmodSync(join(dir, script), 0o755);
    }
  }
  let now = 1_000_000;
  const calls: GuardCall[] = [];
  const guard: LeaseGuard = {
    renew(deadlineMs, budgetMs, masters) {
      calls.push({
        kind: "renew",
        deadlineMs,
        budgetMs,
        masters: masters.map((m) => `${m.service}=${m.epoch}`),
      });
    },
    idle() {
      calls.push({ kind: "idle" });
    },
    async stop() {
      calls.push({ kind: "stop" });
      appendFileSync(log, "guard stop\n");
    },
  };
  let roleChanges = 0;
  const manager = new ServiceManager({
    services: readServicesDir(servicesDir),
    logger: pino({ level: "silent" }),
    guard,
    now: () => now,
    scriptTimeoutMs: 10_000,
    onRoleChange: () => {
      roleChanges++;
    },
  });
  // Clear the lease timer whatever the test did (stopAll clears it).
  t.teardown(() => manager.stopAll());
  const lines = () =>
    readFileSync(log, "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l !== "");
  return {
    manager,
    calls,
    lines,
    clearLog: () => writeFileSync(log, ""),
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
    roleChanges: () => roleChanges,
    /** A grant sent now (by default) with the given masters. */
    grant: (masters: Record<string, number>, o: { leaseMs?: number; sentAt?: number } = {}) => {
      const g: MasterGrants = {
        masters: new Map(Object.entries(masters)),
        sentAt: o.sentAt ?? now,
        leaseMs: o.leaseMs ?? LONG_LEASE,
      };
      manager.grant(g);
    },
    idles: () => calls.filter((c) => c.kind === "idle").length,
  };
}

const states = (m: ServiceManager) => m.roles().map((r) => `${r.service}:${r.state}:${r.epoch}`);

const THREE: ServiceSpec[] = [
  { name: "cache", priority: 2 },
  { name: "db", priority: 1 },
  { name: "app", priority: 2 },
];

test("startAll runs start in priority order; stopAll demotes in reverse, stops the guard, then stops in reverse", async (t) => {
  const s = setup(t, THREE);
  await s.manager.startAll();
  t.deepEqual(s.lines(), ["db start", "app start", "cache start"]);
  s.grant({ db: 1, app: 1, cache: 1 });
  await waitFor(t, "three masters", () => s.manager.roles().every((r) => r.state === "master"));
  s.clearLog();
  await s.manager.stopAll();
  t.deepEqual(s.lines(), [
    "cache demote 1 agent stopping",
    "app demote 1 agent stopping",
    "db demote 1 agent stopping",
    "guard stop",
    "cache stop",
    "app stop",
    "db stop",
  ]);
  t.deepEqual(states(s.manager), ["db:standby:1", "app:standby:1", "cache:standby:1"]);
});

test("a grant is ignored once stopping has begun", async (t) => {
  const s = setup(t, THREE);
  await s.manager.stopAll();
  s.clearLog();
  s.grant({ db: 1 });
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(s.lines(), []);
  t.deepEqual(states(s.manager), ["db:standby:0", "app:standby:0", "cache:standby:0"]);
});

test("a grant promotes in priority order with CONCLAVE_EPOCH", async (t) => {
  const s = setup(t, THREE);
  s.grant({ cache: 7, app: 5, db: 3 });
  await waitFor(t, "three masters", () => s.manager.roles().every((r) => r.state === "master"));
  t.deepEqual(s.lines(), ["db promote 3", "app promote 5", "cache promote 7"]);
  t.deepEqual(s.manager.roles(), [
    { service: "db", state: "master", epoch: 3 },
    { service: "app", state: "master", epoch: 5 },
    { service: "cache", state: "master", epoch: 7 },
  ]);
  t.true(s.roleChanges() >= 6, "each promoting and master state is reported");
});

test("a service this member does not run is not promoted; a newer epoch while master runs nothing", async (t) => {
  const s = setup(t, THREE);
  s.grant({ db: 1, nosuch: 4 });
  await waitFor(t, "db master", () => s.manager.roles()[0]!.state === "master");
  s.grant({ db: 2 });
  await waitFor(t, "db epoch 2", () => s.manager.roles()[0]!.epoch === 2);
  t.deepEqual(s.lines(), ["db promote 1"]);
  t.deepEqual(states(s.manager), ["db:master:2", "app:standby:0", "cache:standby:0"]);
});

test("removing a grant demotes it; several removed at once demote in reverse priority order", async (t) => {
  const s = setup(t, THREE);
  s.grant({ db: 1, app: 2, cache: 3 });
  await waitFor(t, "three masters", () => s.manager.roles().every((r) => r.state === "master"));
  s.clearLog();
  s.grant({ db: 1, app: 2 });
  await waitFor(t, "cache standby", () => s.manager.roles()[2]!.state === "standby");
  t.deepEqual(s.lines(), ["cache demote 3 grant"]);
  s.clearLog();
  s.grant({});
  await waitFor(t, "all standby", () => s.manager.roles().every((r) => r.state === "standby"));
  t.deepEqual(s.lines(), ["app demote 2 grant", "db demote 1 grant"]);
  t.deepEqual(states(s.manager), ["db:standby:1", "app:standby:2", "cache:standby:3"]);
});

test("a grant whose self-demote point has already passed promotes nothing and renews nothing", async (t) => {
  const s = setup(t, THREE);
  const leaseMs = 3000;
  // Sent exactly selfDemoteAfterMs ago: its self-demote point is now.
  s.grant({ db: 1 }, { leaseMs, sentAt: s.now() - selfDemoteAfterMs(leaseMs) });
  t.deepEqual(s.calls, []);
  await new Promise((r) => setTimeout(r, 100));
  t.deepEqual(s.lines(), []);
  t.deepEqual(states(s.manager), ["db:standby:0", "app:standby:0", "cache:standby:0"]);
  // One millisecond fresher and it counts.
  s.grant({ db: 1 }, { leaseMs, sentAt: s.now() - selfDemoteAfterMs(leaseMs) + 1 });
  await waitFor(t, "db master", () => s.manager.roles()[0]!.state === "master");
  t.deepEqual(s.lines(), ["db promote 1"]);
});

test("after a demotion at epoch E a grant of epoch E does not promote again, E+1 does", async (t) => {
  const s = setup(t, THREE);
  s.grant({ db: 4 });
  await waitFor(t, "db master", () => s.manager.roles()[0]!.state === "master");
  s.grant({});
  await waitFor(t, "db standby", () => s.manager.roles()[0]!.state === "standby");
  s.clearLog();
  const idles = s.idles();
  s.grant({ db: 4 }); // e.g. an acknowledgement that was in flight when the leader demoted
  await waitFor(t, "the reconcile pass to end", () => s.idles() > idles);
  t.deepEqual(s.lines(), []);
  t.deepEqual(s.manager.roles()[0], { service: "db", state: "standby", epoch: 4 });
  s.grant({ db: 3 }); // older still
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(s.lines(), []);
  s.grant({ db: 5 });
  await waitFor(t, "db master again", () => s.manager.roles()[0]!.state === "master");
  t.deepEqual(s.lines(), ["db promote 5"]);
  t.deepEqual(s.manager.roles()[0], { service: "db", state: "master", epoch: 5 });
});

test("lease expiry demotes every master in reverse priority order, only once the clock passes the self-demote point", async (t) => {
  const s = setup(t, THREE);
  const leaseMs = 300; // the real timer waits selfDemoteAfterMs(300) = 200 ms
  s.grant({ db: 1, app: 1, cache: 1 }, { leaseMs });
  await waitFor(t, "three masters", () => s.manager.roles().every((r) => r.state === "master"));
  s.clearLog();
  // The real timer fires (at least once) but the monotonic clock has not moved: still master.
  await new Promise((r) => setTimeout(r, selfDemoteAfterMs(leaseMs) + 150));
  t.deepEqual(s.lines(), []);
  t.true(s.manager.roles().every((r) => r.state === "master"));
  s.advance(selfDemoteAfterMs(leaseMs));
  await waitFor(t, "all standby", () => s.manager.roles().every((r) => r.state === "standby"));
  t.deepEqual(s.lines(), [
    "cache demote 1 lease expired",
    "app demote 1 lease expired",
    "db demote 1 lease expired",
  ]);
  await waitFor(t, "idle", () => s.calls.at(-1)?.kind === "idle");
  // A grant of the same epochs after the expiry promotes nothing: they were demoted.
  s.clearLog();
  const idles = s.idles();
  s.grant({ db: 1 }, { leaseMs });
  await waitFor(t, "the reconcile pass to end", () => s.idles() > idles);
  t.deepEqual(s.lines(), []);
});

test("a promote still running at lease expiry is killed and the service demoted", async (t) => {
  const s = setup(t, [{ name: "db", priority: 1, promoteBody: "sleep 5; echo 'db promote end' >> {LOG}" }]);
  const leaseMs = 300;
  s.grant({ db: 2 }, { leaseMs });
  await waitFor(t, "promote running", () => s.lines().includes("db promote 2"));
  t.is(s.manager.roles()[0]!.state, "promoting");
  s.advance(selfDemoteAfterMs(leaseMs));
  await waitFor(
    t,
    "db out of promoting",
    () => s.manager.roles()[0]!.state !== "promoting" && s.lines().some((l) => l.startsWith("db demote")),
  );
  await waitFor(t, "idle", () => s.calls.at(-1)?.kind === "idle");
  // Killed, then demoted for the lease (not as a failed promote, and `failed` does not run).
  t.deepEqual(s.lines(), ["db promote 2", "db demote 2 lease expired"]);
  // A lease expiry is not a failure of the service: it must stay eligible as master.
  t.deepEqual(s.manager.roles()[0], { service: "db", state: "standby", epoch: 2 });
});

test("a failed promote runs demote then failed and reports failed; statusPassing returns it to standby", async (t) => {
  const s = setup(t, [
    { name: "db", priority: 1, promoteExit: 3 },
    { name: "web", priority: 2 },
  ]);
  s.grant({ db: 6, web: 2 });
  await waitFor(t, "web master", () => s.manager.roles()[1]!.state === "master");
  t.deepEqual(s.lines(), ["db promote 6", "db demote 6 promote failed", "db failed 6", "web promote 2"]);
  t.deepEqual(s.manager.roles(), [
    { service: "db", state: "failed", epoch: 6 },
    { service: "web", state: "master", epoch: 2 },
  ]);
  s.manager.statusPassing("web"); // not failed: no change
  t.is(s.manager.roles()[1]!.state, "master");
  const before = s.roleChanges();
  s.manager.statusPassing("db");
  t.is(s.manager.roles()[0]!.state, "standby");
  t.is(s.roleChanges(), before + 1);
  // The failed epoch does not come back; the leader's next epoch does.
  s.clearLog();
  s.grant({ db: 6, web: 2 });
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(s.lines(), []);
  s.grant({ db: 7, web: 2 });
  await waitFor(t, "db promote attempted again", () => s.lines().length >= 1);
  t.is(s.lines()[0], "db promote 7");
});

test("the guard is renewed with the lease deadline and the masters in demote order, and told idle once none is master", async (t) => {
  const s = setup(t, THREE);
  const leaseMs = 3000;
  s.grant({ db: 1, cache: 3, app: 2 }, { leaseMs });
  const slack = watchdogSlackMs(leaseMs);
  t.deepEqual(s.calls, [
    {
      kind: "renew",
      deadlineMs: selfDemoteAfterMs(leaseMs) + slack,
      budgetMs: demoteBudgetMs(leaseMs) - slack,
      masters: ["cache=3", "app=2", "db=1"],
    },
  ]);
  await waitFor(t, "three masters", () => s.manager.roles().every((r) => r.state === "master"));
  t.false(
    s.calls.some((c) => c.kind === "idle"),
    "never idle while a master exists",
  );
  // A renewal sent 500 ms later, still granting two: the deadline counts from its sentAt.
  s.advance(500);
  s.grant({ db: 1, app: 2 }, { leaseMs, sentAt: s.now() - 100 });
  t.deepEqual(s.calls.at(-1), {
    kind: "renew",
    deadlineMs: selfDemoteAfterMs(leaseMs) - 100 + slack,
    budgetMs: demoteBudgetMs(leaseMs) - slack,
    // cache is still master until its demote has run: the watchdog must still cover it.
    masters: ["cache=3", "app=2", "db=1"],
  });
  await waitFor(t, "cache standby", () => s.manager.roles()[2]!.state === "standby");
  t.false(s.calls.some((c) => c.kind === "idle"));
  s.grant({ db: 1, app: 2 }, { leaseMs });
  t.deepEqual(s.calls.at(-1), {
    kind: "renew",
    deadlineMs: selfDemoteAfterMs(leaseMs) + slack,
    budgetMs: demoteBudgetMs(leaseMs) - slack,
    masters: ["app=2", "db=1"],
  });
  s.grant({}, { leaseMs });
  await waitFor(t, "all standby", () => s.manager.roles().every((r) => r.state === "standby"));
  await waitFor(t, "idle", () => s.calls.at(-1)?.kind === "idle");
});

test("roles() reports state and epoch per service in priority order", async (t) => {
  const s = setup(t, THREE);
  t.deepEqual(s.manager.roles(), [
    { service: "db", state: "standby", epoch: 0 },
    { service: "app", state: "standby", epoch: 0 },
    { service: "cache", state: "standby", epoch: 0 },
  ]);
  s.grant({ app: 9 });
  await waitFor(t, "app master", () => s.manager.roles()[1]!.state === "master");
  t.deepEqual(s.manager.roles(), [
    { service: "db", state: "standby", epoch: 0 },
    { service: "app", state: "master", epoch: 9 },
    { service: "cache", state: "standby", epoch: 0 },
  ]);
  t.deepEqual(
    s.manager.definitions.map((d) => d.name),
    ["db", "app", "cache"],
  );
});

test("watchdogDemoted marks a master standby and its epoch as demoted", async (t) => {
  const s = setup(t, THREE);
  s.grant({ db: 2 });
  await waitFor(t, "db master", () => s.manager.roles()[0]!.state === "master");
  s.manager.watchdogDemoted({ service: "db", epoch: 1, exitCode: 0 }); // older epoch: ignored
  t.is(s.manager.roles()[0]!.state, "master");
  s.manager.watchdogDemoted({ service: "db", epoch: 2, exitCode: 0 });
  t.deepEqual(s.manager.roles()[0], { service: "db", state: "standby", epoch: 2 });
  s.clearLog();
  const idles = s.idles();
  s.grant({ db: 2 });
  await waitFor(t, "the reconcile pass to end", () => s.idles() > idles);
  t.deepEqual(s.lines(), []);
});
