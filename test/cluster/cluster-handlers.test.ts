/**
 * Multi-process, exactly-once handlers: `kill -9` of a member runs the handler exactly once
 * in the whole cluster; `kill -9` of the leader while a slow handler runs makes the next
 * leader run attempt 2 with the same event id, and the two runs never overlap in time;
 * huge binary handler output is truncated and never crashes the leader.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { clusterUp, eventsAfter as events, handlerYaml, until } from "../support/cluster-wait.ts";
import { ProcessCluster } from "../support/process-cluster.ts";
import { conclaveArgv } from "../support/conclave-entry.ts";

/** A handler script in the cluster's dir; `body` is sh. */
function script(c: ProcessCluster, name: string, body: string): string {
  const path = join(c.dir, name);
  writeFileSync(path, `#!/bin/sh\n${body}\n`);
  chmodSync(path, 0o755);
  return path;
}

test.serial("kill -9 of a member: exactly one handler run in the whole cluster", async (t) => {
  const { c, api } = await clusterUp(
    t,
    { names: ["e1", "e2", "e3"], members: ["m1", "m2"], logLevel: "warn" },
    {
      prepare: (c) =>
        c.setElectorExtra(
          handlerYaml({ name: "record", on: ["member-down"], run: join(c.dir, "record"), timeout: "10s" }),
        ),
    },
  );
  const log = join(c.dir, "runs.log");
  script(
    c,
    "record",
    `cat > ${log}.$CONCLAVE_EVENT_ID.stdin.json; echo "$CONCLAVE_EVENT_ID $CONCLAVE_EVENT $CONCLAVE_MEMBER $CONCLAVE_ATTEMPT $CONCLAVE_FENCE $CONCLAVE_MEMBER_ADDRESS $CONCLAVE_HANDLER $CONCLAVE_CLUSTER" >> ${log}`,
  );
  // Every elector has the handler (any may lead), as docs/handler-contract.md requires.

  await c.kill("m1");
  const done = await until("handler-succeeded", async () =>
    (await events(api)).find((e) => e.type === "handler-succeeded"),
  );
  const down = (await events(api)).find((e) => e.type === "member-down")!;
  t.is(done.details.event, down.id);
  // A later event through the same path: m2's member-down and its handler run. Once that run
  // is recorded, a (wrong) second run of m1's event would have been recorded before it.
  await c.kill("m2");
  const later = await until("m2's handler-succeeded", async () => {
    const evs = await events(api);
    const down2 = evs.find((e) => e.type === "member-down" && e.member === "m2");
    return down2 && evs.some((e) => e.type === "handler-succeeded" && e.details.event === down2.id)
      ? down2
      : undefined;
  });
  const evs = await events(api);
  t.deepEqual(
    evs.filter((e) => e.type.startsWith("handler-")).map((e) => [e.type, e.details.event, e.details.attempt]),
    [
      ["handler-started", down.id, 1],
      ["handler-succeeded", down.id, 1],
      ["handler-started", later.id, 1],
      ["handler-succeeded", later.id, 1],
    ],
  );
  const lines = readFileSync(log, "utf8").trim().split("\n");
  t.deepEqual(
    lines.map((l) => l.split(" ").slice(0, 4).join(" ")),
    [`${down.id} member-down m1 1`, `${later.id} member-down m2 1`],
    "one run per event, m1's before m2's",
  );
  const [id, type, member, attempt, fence, address, handler, cluster] = lines[0]!.split(" ");
  t.deepEqual(
    [Number(id), type, member, attempt, handler, cluster],
    [down.id, "member-down", "m1", "1", "record", "conclave"],
  );
  t.regex(fence!, /^\d+:\d+$/);
  t.is(address, c.nodes.get("m1")!.addr);
  // Standard input: the event and the committed member view at that point.
  const stdin = JSON.parse(readFileSync(`${log}.${down.id}.stdin.json`, "utf8"));
  t.is(stdin.event.id, down.id);
  t.is(stdin.event.type, "member-down");
  t.deepEqual(
    stdin.members.map((m: { name: string; status: string }) => [m.name, m.status]),
    [
      ["m1", "down"],
      ["m2", "up"],
    ],
  );
});

test.serial(
  "kill -9 of the leader during a slow handler: attempt 2 on the next leader, never overlapping",
  async (t) => {
    const { c, leader, api } = await clusterUp(
      t,
      { names: ["e1", "e2", "e3"], members: ["m1", "m2"], logLevel: "warn" },
      {
        client: "not-leader",
        prepare: (c) =>
          c.setElectorExtra(
            handlerYaml({ name: "slow", on: ["member-down"], run: join(c.dir, "slow"), timeout: "30s" }),
          ),
      },
    );
    const log = join(c.dir, "slow.log");
    // Writes a timestamped line every 50 ms for 4 s: a run is "alive" while it writes.
    script(
      c,
      "slow",
      `cat > /dev/null; i=0; while [ $i -lt 80 ]; do echo "$CONCLAVE_EVENT_ID $CONCLAVE_ATTEMPT tick $(date +%s%N)" >> ${log}; sleep 0.05; i=$((i+1)); done; echo "$CONCLAVE_EVENT_ID $CONCLAVE_ATTEMPT end $(date +%s%N)" >> ${log}`,
    );

    await c.kill("m1");
    await until("attempt 1 running", async () =>
      existsSync(log) && readFileSync(log, "utf8").includes(" 1 tick ") ? true : undefined,
    );
    await c.kill(leader);
    const ok = await until(
      "handler-succeeded",
      async () => (await events(api)).find((e) => e.type === "handler-succeeded"),
      30_000,
    );
    t.is(ok.details.attempt, 2);
    const lines = readFileSync(log, "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    const eventIds = new Set(lines.map((l) => l[0]));
    t.is(eventIds.size, 1, "both attempts carry the same CONCLAVE_EVENT_ID");
    const times = (attempt: string) => lines.filter((l) => l[1] === attempt).map((l) => BigInt(l[3]!));
    const first = times("1");
    const second = times("2");
    t.true(first.length > 0 && second.length > 0);
    const lastOfFirst = first.reduce((a, b) => (a > b ? a : b));
    const firstOfSecond = second.reduce((a, b) => (a < b ? a : b));
    t.true(lastOfFirst < firstOfSecond, "attempt 1 was still running when attempt 2 started");
    t.false(
      lines.some((l) => l[1] === "1" && l[2] === "end"),
      "attempt 1 was killed with its leader",
    );
    const started = (await events(api))
      .filter((e) => e.type === "handler-started")
      .map((e) => e.details.attempt);
    t.deepEqual(started, [1, 2]);
  },
);

test.serial(
  "huge binary handler output is truncated to the last 4 KiB and the leader keeps working",
  async (t) => {
    const { c, api } = await clusterUp(
      t,
      { names: ["e1", "e2", "e3"], members: ["m1"], logLevel: "warn" },
      {
        client: "e2",
        prepare: (c) =>
          c.setElectorExtra(
            handlerYaml({
              name: "noisy",
              on: ["member-down"],
              run: join(c.dir, "noisy"),
              timeout: "30s",
              retries: 0,
            }),
          ),
      },
    );
    script(c, "noisy", "cat > /dev/null; head -c 20000000 /dev/urandom; exit 3");
    await c.kill("m1");
    const failed = await until("handler-failed", async () =>
      (await events(api)).find((e) => e.type === "handler-failed"),
    );
    t.is(failed.details.exit_code, 3);
    t.is(failed.details.output_truncated, true);
    t.is(failed.details.output_bytes, 20_000_000);
    t.true(Buffer.byteLength(String(failed.details.output)) <= 3 * 4096, "the kept output is a small tail");
    t.true((await api.kvPut("still", "working")).revision > 0);
    t.true((await api.auditVerify()).ok);
  },
);

test.serial("conclave handlers retry runs a failed handler again, recorded in the log", async (t) => {
  const { c, api } = await clusterUp(
    t,
    { names: ["e1", "e2", "e3"], members: ["m1"], logLevel: "warn" },
    {
      client: "e3",
      prepare: (c) =>
        c.setElectorExtra(
          handlerYaml({
            name: "flaky",
            on: ["member-down"],
            run: join(c.dir, "flaky"),
            timeout: "10s",
            retries: 0,
          }),
        ),
    },
  );
  const flag = join(c.dir, "fixed");
  script(c, "flaky", `cat > /dev/null; [ -e ${flag} ] || { echo "not fixed yet"; exit 1; }`);
  await c.kill("m1");
  const failed = await until("handler-failed", async () =>
    (await events(api)).find((e) => e.type === "handler-failed"),
  );
  t.regex(String(failed.details.output), /not fixed yet/);

  writeFileSync(flag, "");
  const r = await api.handlersRetry(failed.details.event as number, "flaky");
  t.deepEqual(r.started, ["flaky"]);
  const ok = await until("handler-succeeded", async () =>
    (await events(api)).find((e) => e.type === "handler-succeeded"),
  );
  t.is(ok.details.attempt, 2);
  const retried = (await events(api)).find((e) => e.type === "handler-started" && e.details.attempt === 2);
  t.is(retried?.details.retry, true);
  // Nothing left to retry: a clear refusal.
  await t.throwsAsync(api.handlersRetry(failed.details.event as number, "flaky"), {
    message: /no failed handler run/,
  });
});

test.serial("conclave status warns when the electors' handler configurations differ", async (t) => {
  const c = await ProcessCluster.create({ names: ["e1", "e2", "e3"], logLevel: "warn" });
  t.teardown(() => c.destroy());
  const e1 = c.nodes.get("e1")!;
  const { appendFileSync } = await import("node:fs");
  appendFileSync(
    e1.configFile,
    "handlers:\n  - name: only-on-e1\n    on: [member-down]\n    run: /bin/true\n",
  );
  c.startAll();
  await c.waitForLeader();
  const { execFile } = await import("node:child_process");
  const status = (addr: string) =>
    new Promise<string>((resolve) =>
      execFile(
        process.execPath,
        conclaveArgv(["status", "--addr", addr, "--token-file", c.tokenFile]),
        (_err, stdout) => resolve(stdout),
      ),
    );
  const out = await status(c.nodes.get("e2")!.addr);
  t.regex(
    out,
    /warning: the electors' handler configurations differ \(e1 [0-9a-f]{8}, e2 [0-9a-f]{8}, e3 [0-9a-f]{8}\)/,
  );
});

test.serial(
  "a failing handler is retried with backoff, each attempt recorded, until it succeeds",
  async (t) => {
    const { c, api } = await clusterUp(
      t,
      { names: ["e1", "e2", "e3"], members: ["m1"], logLevel: "warn" },
      {
        prepare: (c) =>
          c.setElectorExtra(
            handlerYaml({
              name: "third-time",
              on: ["member-down"],
              run: join(c.dir, "third-time"),
              timeout: "10s",
              retries: 3,
            }),
          ),
      },
    );
    const count = join(c.dir, "attempts");
    // Fails on attempts 1 and 2, succeeds on 3.
    script(
      c,
      "third-time",
      `cat > /dev/null; echo "$CONCLAVE_ATTEMPT" >> ${count}; [ "$CONCLAVE_ATTEMPT" -ge 3 ]`,
    );
    await c.kill("m1");
    const ok = await until(
      "handler-succeeded",
      async () => (await events(api)).find((e) => e.type === "handler-succeeded"),
      30_000,
    );
    t.is(ok.details.attempt, 3);
    const evs = await events(api);
    t.deepEqual(
      evs.filter((e) => e.type === "handler-started").map((e) => e.details.attempt),
      [1, 2, 3],
    );
    // Each retry carries what happened to the attempt before it.
    const second = evs.find((e) => e.type === "handler-started" && e.details.attempt === 2)!;
    t.is((second.details.previous as { exit_code: number }).exit_code, 1);
    t.false(evs.some((e) => e.type === "handler-failed"));
    t.deepEqual(readFileSync(count, "utf8").trim().split("\n"), ["1", "2", "3"]);
  },
);
