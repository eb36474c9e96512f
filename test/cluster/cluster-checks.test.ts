/**
 * Checks end to end: a member's own check crossing its threshold is committed as
 * check-failing / check-passing; `conclave checks apply` (here in gossipcheck's JSON format)
 * reaches every member, whose runs are then committed too; an invalid file is refused whole,
 * naming the check and the field, and nothing is applied; `conclave checks test` runs a file
 * once, locally, with no actions, prints a table and exits 1 when a check fails.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { eventsAfter, until } from "../support/cluster-wait.ts";
import { freePort, ProcessCluster } from "../support/process-cluster.ts";
import { conclave } from "../support/run-conclave.ts";

test.serial(
  "a member's checks are committed when they cross fall / rise, and cluster-wide checks reach every member",
  async (t) => {
    const c = await ProcessCluster.create({
      names: ["e1", "e2", "e3"],
      members: ["m1", "m2"],
      logLevel: "warn",
      heartbeat: "100ms",
      memberTimeout: "600ms",
    });
    t.teardown(() => c.destroy());
    const flag = join(c.dir, "m1-ready");
    writeFileSync(flag, "ok\n");
    c.setMemberExtra(
      "m1",
      `checks:\n  - name: ready\n    type: file_exists\n    path: ${flag}\n    interval: 100ms\n    fall: 2\n    rise: 2\n`,
    );
    c.startAll();
    const leader = await c.waitForLeader();
    const api = c.client(leader, 10_000);
    t.teardown(() => api.close());
    await until("members up", async () =>
      (await api.members()).members.filter((m) => m.status === "up").length === 2 ? true : undefined,
    );
    // The check starts pending and is committed passing after `rise` passes: wait for that.
    await until("ready passing", async () =>
      (await api.members()).members.find((m) => m.name === "m1")?.checks.ready === "passing"
        ? true
        : undefined,
    );
    const since = (await eventsAfter(api)).at(-1)!.id;

    rmSync(flag);
    const failing = await until("check-failing", async () =>
      (await eventsAfter(api, since)).find((e) => e.type === "check-failing"),
    );
    t.is(failing.member, "m1");
    t.is(failing.details.check, "ready");
    t.is((await api.members()).members.find((m) => m.name === "m1")!.checks.ready, "failing");
    writeFileSync(flag, "ok\n");
    const passing = await until("check-passing", async () =>
      (await eventsAfter(api, since)).find((e) => e.type === "check-passing"),
    );
    t.is(passing.details.check, "ready");
    // Only changes are reported: one failing and one passing, not one per run.
    t.is((await eventsAfter(api, since)).filter((e) => e.type.startsWith("check-")).length, 2);

    // Cluster-wide checks, in gossipcheck's format: every member runs them.
    const missing = join(c.dir, "nowhere");
    const file = join(c.dir, "gossipcheck.json");
    writeFileSync(
      file,
      JSON.stringify({ disk: { type: "file_exists", path: missing, interval: "100ms", fall: 1 } }),
    );
    const addr = ["--addr", c.nodes.get("e2")!.addr, "--token-file", c.tokenFile];
    const applied = await conclave(["checks", "apply", file, ...addr]);
    t.is(applied.code, 0, applied.stderr);
    t.regex(applied.stdout, /applied 1 check\(s\) as version \d+/);
    const both = await until("check-failing from both members", async () => {
      const fails = (await eventsAfter(api, since)).filter(
        (e) => e.type === "check-failing" && e.details.check === "disk",
      );
      return fails.length === 2 ? fails : undefined;
    });
    t.deepEqual(both.map((e) => e.member).sort(), ["m1", "m2"]);
    const updated = (await eventsAfter(api, since)).find((e) => e.type === "checks-updated")!;
    t.deepEqual(updated.details.names, ["disk"]);
    const list = await conclave(["checks", "list", "--json", ...addr]);
    t.is(list.code, 0, list.stderr);
    const listed = JSON.parse(list.stdout) as { version: number; checks: { name: string; path: string }[] };
    t.is(listed.version, updated.id);
    t.deepEqual(
      listed.checks.map((x) => [x.name, x.path]),
      [["disk", missing]],
    );

    // An invalid file is refused whole: nothing is applied.
    const bad = join(c.dir, "bad.yaml");
    writeFileSync(
      bad,
      `- name: fine\n  type: tcp\n  address: 127.0.0.1:1\n- name: web\n  type: http\n  url: ftp://example.com/\n`,
    );
    const refused = await conclave(["checks", "apply", bad, ...addr]);
    t.is(refused.code, 2);
    t.regex(refused.stderr, /checks\[1\] \(web\)\.url: must be an http:\/\/ or https:\/\/ URL/);
    const after = JSON.parse((await conclave(["checks", "list", "--json", ...addr])).stdout) as {
      version: number;
    };
    t.is(after.version, updated.id, "nothing was applied");
  },
);

test.serial(
  "a check is pending until checked: members (text and --json), the status page and handler stdin show it",
  async (t) => {
    const c = await ProcessCluster.create({
      names: ["e1", "e2", "e3"],
      members: ["m1"],
      logLevel: "warn",
      heartbeat: "100ms",
      nodeExtra: { e2: `http: 127.0.0.1:${await freePort()}` },
    });
    t.teardown(() => c.destroy());
    const flag = join(c.dir, "m1-ready");
    writeFileSync(flag, "ok\n");
    const stdinDir = join(c.dir, "stdin");
    mkdirSync(stdinDir);
    c.setElectorExtra(
      [
        "handlers:",
        "  - name: capture",
        "    on: [member-joined]",
        `    run: cat > ${stdinDir}/$CONCLAVE_EVENT_ID.json`,
        "",
      ].join("\n"),
    );
    // `slow` runs once at start and not again for 20 minutes: with rise 2 it stays pending.
    c.setMemberExtra(
      "m1",
      [
        "checks:",
        "  - { name: slow, type: file_exists, path: " + flag + ", interval: 20m, rise: 2 }",
        "  - { name: ready, type: file_exists, path: " + flag + ", interval: 100ms, rise: 2 }",
        "",
      ].join("\n"),
    );
    c.startAll();
    const leader = await c.waitForLeader();
    const api = c.client(leader, 10_000);
    t.teardown(() => api.close());
    // `ready` passing is committed later than the join: `slow` is pending in the same view.
    const m1 = await until("ready committed passing", async () => {
      const m = (await api.members()).members.find((x) => x.name === "m1");
      return m?.checks.ready === "passing" ? m : undefined;
    });
    t.is(m1.status, "up", "a pending check does not change the member's status");
    t.is(m1.checks.slow, "pending");

    const addr = ["--addr", c.nodes.get("e2")!.addr, "--token-file", c.tokenFile];
    const json = await conclave(["members", "--json", ...addr]);
    t.is(json.code, 0, json.stderr);
    const listed = JSON.parse(json.stdout) as {
      name: string;
      status: string;
      checks: Record<string, string>;
    }[];
    t.deepEqual(listed.find((m) => m.name === "m1")?.checks, { ready: "passing", slow: "pending" });
    const text = await conclave(["members", ...addr]);
    t.is(text.code, 0, text.stderr);
    t.regex(text.stdout, /^m1 .*\bup\b.*slow:pending/m);

    const http = /http: (127\.0\.0\.1:\d+)/.exec(readFileSync(c.nodes.get("e2")!.configFile, "utf8"))![1];
    const page = await until("the status page", async () => {
      const html = await (await fetch(`http://${http}/`)).text();
      return html.includes("slow") ? html : undefined;
    });
    t.regex(page, /slow: pending/);

    const joined = (await eventsAfter(api)).find((e) => e.type === "member-joined" && e.member === "m1")!;
    // It registered with what it knew then (`ready` may have passed while an election ran).
    t.is((joined.details.checks as Record<string, string>).slow, "pending");
    const file = join(stdinDir, `${joined.id}.json`);
    await until("the handler's stdin", async () =>
      existsSync(file) && readFileSync(file, "utf8") ? true : undefined,
    );
    const stdin = JSON.parse(readFileSync(file, "utf8")) as {
      members: { name: string; checks: Record<string, string> }[];
    };
    t.is(stdin.members.find((m) => m.name === "m1")?.checks.slow, "pending");
  },
);

test("checks test runs a file once, locally, with no actions, and exits 1 when a check fails", async (t) => {
  // A fresh folder of its own: a clean clone has no node_modules/.cache, and nothing is shared.
  const dir = mkdtempSync(join(tmpdir(), "conclave-checks-test-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const here = join(dir, "checks");
  const actionMark = `${here}.action-ran`;
  writeFileSync(`${here}.present`, "hello world\n");
  writeFileSync(
    `${here}.yaml`,
    [
      "checks:",
      "  - name: present",
      "    type: file_contains",
      `    path: ${here}.present`,
      "    contains: hello",
      "  - name: absent",
      "    type: file_exists",
      `    path: ${here}.absent`,
      `    action: touch ${actionMark}`,
      "",
    ].join("\n"),
  );
  const r = await conclave(["checks", "test", `${here}.yaml`]);
  t.is(r.code, 1, r.stderr);
  const lines = r.stdout.trim().split("\n");
  t.regex(lines[0]!, /^NAME\s+TYPE\s+RESULT\s+MS\s+DETAIL$/);
  t.regex(lines[1]!, /^present\s+file_contains\s+pass\s/);
  t.regex(lines[2]!, /^absent\s+file_exists\s+FAIL\s/);
  t.false(existsSync(actionMark), "no action runs in a dry run");
  writeFileSync(
    `${here}.ok.yaml`,
    JSON.stringify([{ name: "present", type: "file_exists", path: `${here}.present` }]),
  );
  const ok = await conclave(["checks", "test", `${here}.ok.yaml`, "--json"]);
  t.is(ok.code, 0, ok.stderr);
  t.like((JSON.parse(ok.stdout) as object[])[0], { name: "present", ok: true });
  const missing = await conclave(["checks", "test", `${here}.nofile.yaml`]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /nofile\.yaml/);
});
