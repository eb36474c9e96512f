/**
 * Check files: gossipcheck's JSON converted to the definitions of docs/checks.md (path/check mapped per
 * type), errors that name the check (`checks[i] (NAME).field`, `NAME.check`), and
 * readChecksFile on the three accepted file shapes.
 */
import test, { type ExecutionContext } from "ava";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseChecks } from "../../../../src/config/check-schema.ts";
import { ConfigError } from "../../../../src/config/config-error.ts";
import { loadChecks, readChecksFile } from "../../../../src/member/checks/check-file.ts";
import { fromGossipcheck, isGossipcheckFormat } from "../../../../src/member/checks/gossipcheck-format.ts";

function tempFile(t: ExecutionContext, name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-checks-format-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

test("isGossipcheckFormat: a non-empty mapping of names to objects with a type", (t) => {
  t.true(isGossipcheckFormat({ web: { type: "http", path: "http://x/" } }));
  t.true(isGossipcheckFormat({ a: { type: "tcp" }, b: { type: "file_exists", path: "/x" } }));
  t.false(isGossipcheckFormat([{ name: "web", type: "http", url: "http://x/" }]), "a list");
  t.false(isGossipcheckFormat({ checks: [] }), "a checks: mapping");
  t.false(
    isGossipcheckFormat({ checks: { type: "tcp" } }),
    "a check named checks is still the docs/checks.md form",
  );
  t.false(isGossipcheckFormat({}), "empty");
  t.false(isGossipcheckFormat({ a: { type: "tcp" }, b: { path: "/x" } }), "one without a type");
  t.false(isGossipcheckFormat({ a: "tcp" }), "not objects");
  t.false(isGossipcheckFormat({ a: [{ type: "tcp" }] }), "a list value");
  t.false(isGossipcheckFormat(null));
  t.false(isGossipcheckFormat("text"));
});

test("fromGossipcheck maps path and check per type as the table says", (t) => {
  const got = fromGossipcheck(
    {
      exists: { type: "file_exists", path: "/etc/ready" },
      contains: { type: "file_contains", path: "/etc/mode", check: "primary" },
      proc: { type: "process_running", path: "/usr/sbin/nginx", check: "master process" },
      web: { type: "http", path: "http://127.0.0.1/health", check: "ok" },
      port: { type: "tcp", path: "127.0.0.1:5432" },
      cmd: { type: "command", path: "/usr/local/bin/check-db" },
    },
    "g.json",
  );
  t.deepEqual(got, [
    { name: "exists", type: "file_exists", path: "/etc/ready" },
    { name: "contains", type: "file_contains", path: "/etc/mode", contains: "primary" },
    { name: "proc", type: "process_running", path: "/usr/sbin/nginx", cmdline: "master process" },
    { name: "web", type: "http", url: "http://127.0.0.1/health", expect: "ok" },
    { name: "port", type: "tcp", address: "127.0.0.1:5432" },
    { name: "cmd", type: "command", run: "/usr/local/bin/check-db" },
  ]);
});

test("fromGossipcheck passes the other keys through and leaves out absent path and check", (t) => {
  const got = fromGossipcheck(
    {
      web: {
        type: "http",
        path: "http://x/",
        interval: "5s",
        timeout: "1s",
        fall: 3,
        rise: 1,
        action: "restart",
      },
      proc: { type: "process_running", check: "postgres" },
    },
    "g.json",
  );
  t.deepEqual(got, [
    {
      name: "web",
      type: "http",
      url: "http://x/",
      interval: "5s",
      timeout: "1s",
      fall: 3,
      rise: 1,
      action: "restart",
    },
    { name: "proc", type: "process_running", cmdline: "postgres" },
  ]);
});

test("a gossipcheck check on a type that has no use for it is a ConfigError naming NAME.check", (t) => {
  for (const type of ["file_exists", "tcp", "command"]) {
    const err = t.throws(
      () =>
        fromGossipcheck(
          { ok: { type: "file_exists", path: "/x" }, mine: { type, path: "x", check: "y" } },
          "g.json",
        ),
      { instanceOf: ConfigError },
    );
    t.is(err!.file, "g.json");
    t.is(err!.key, "mine.check");
    t.true(err!.message.startsWith("g.json: mine.check: "), err!.message);
    t.true(err!.message.includes(type), err!.message);
  }
  const untyped = t.throws(() => fromGossipcheck({ odd: { type: 7, check: "y" } }, "g.json"), {
    instanceOf: ConfigError,
  });
  t.is(untyped!.key, "odd.check");
});

test("converted gossipcheck definitions validate with parseChecks", (t) => {
  const checks = parseChecks(
    fromGossipcheck(
      {
        web: { type: "http", path: "https://x/health", check: "ok", interval: "5s" },
        port: { type: "tcp", path: "db.internal:5432" },
        cmd: { type: "command", path: "/bin/true" },
      },
      "g.json",
    ),
    "g.json",
  );
  t.deepEqual(
    checks.map((c) => [c.name, c.type, c.intervalMs]),
    [
      ["web", "http", 5000],
      ["port", "tcp", 2000],
      ["cmd", "command", 2000],
    ],
  );
  const web = checks[0]!;
  t.like(web, { url: "https://x/health", expect: "ok", status: 200 });
  t.like(checks[2], { run: { kind: "shell", command: "/bin/true" } });
});

test("parseChecks names the check in an error: checks[i] (NAME).field", (t) => {
  const list = [
    { name: "ok", type: "file_exists", path: "/x" },
    { name: "web", type: "http", url: "ftp://x" },
  ];
  for (const raw of [list, { checks: list }]) {
    const err = t.throws(() => parseChecks(raw, "src.yaml"), { instanceOf: ConfigError });
    t.is(err!.key, "checks[1] (web).url");
    t.true(err!.message.startsWith("src.yaml: checks[1] (web).url: "), err!.message);
    t.regex(err!.message, /http:\/\/ or https:\/\//);
  }
  const unknown = t.throws(() => parseChecks([{ name: "api", type: "tcp", address: "h:1", bogus: 1 }], "s"), {
    instanceOf: ConfigError,
  });
  t.is(unknown!.key, "checks[0] (api).bogus");
  const interval = t.throws(
    () => parseChecks([{ name: "c", type: "command", run: "true", interval: 5 }], "s"),
    {
      instanceOf: ConfigError,
    },
  );
  t.is(interval!.key, "checks[0] (c).interval");
});

test("parseChecks without a usable name keeps the position only", (t) => {
  const err = t.throws(() => parseChecks([{ type: "tcp", address: "nope" }], "s"), {
    instanceOf: ConfigError,
  });
  t.is(err!.key, "checks[0].address");
});

test("parseChecks refuses what is not a list of checks", (t) => {
  for (const raw of [null, "text", 7]) {
    const err = t.throws(() => parseChecks(raw, "s"), { instanceOf: ConfigError });
    t.is(err!.key, null);
    t.regex(err!.message, /^s: must hold a list of checks/);
  }
});

test("readChecksFile reads a YAML list", (t) => {
  const file = tempFile(
    t,
    "checks.yaml",
    "- name: ready\n  type: file_exists\n  path: /etc/ready\n- name: port\n  type: tcp\n  address: 127.0.0.1:80\n",
  );
  t.deepEqual(readChecksFile(file), [
    { name: "ready", type: "file_exists", path: "/etc/ready" },
    { name: "port", type: "tcp", address: "127.0.0.1:80" },
  ]);
  t.deepEqual(
    loadChecks(file).map((c) => c.name),
    ["ready", "port"],
  );
});

test("loadChecks reads a YAML checks file", (t) => {
  const file = tempFile(t, "checks.yaml", "- { name: web, type: http, url: 'http://127.0.0.1/' }\n");
  const [web] = loadChecks(file);
  t.like(web, { name: "web", type: "http", status: 200 });
});

test("readChecksFile reads a checks: mapping (a conclave.yaml excerpt) as it is", (t) => {
  const file = tempFile(
    t,
    "checks.yaml",
    "checks:\n  - name: web\n    type: http\n    url: http://127.0.0.1/\n    interval: 1s\n",
  );
  t.deepEqual(readChecksFile(file), {
    checks: [{ name: "web", type: "http", url: "http://127.0.0.1/", interval: "1s" }],
  });
  const [web] = loadChecks(file);
  t.like(web, { name: "web", type: "http", intervalMs: 1000 });
});

test("readChecksFile converts gossipcheck JSON", (t) => {
  const file = tempFile(
    t,
    "gossipcheck.json",
    JSON.stringify({
      nginx: { type: "process_running", path: "/usr/sbin/nginx", check: "nginx: master" },
      health: { type: "http", path: "http://127.0.0.1/health", check: "ok" },
    }),
  );
  t.deepEqual(readChecksFile(file), [
    { name: "nginx", type: "process_running", path: "/usr/sbin/nginx", cmdline: "nginx: master" },
    { name: "health", type: "http", url: "http://127.0.0.1/health", expect: "ok" },
  ]);
  const checks = loadChecks(file);
  t.like(checks[0], {
    name: "nginx",
    type: "process_running",
    path: "/usr/sbin/nginx",
    cmdline: "nginx: master",
  });
  t.like(checks[1], { name: "health", type: "http", url: "http://127.0.0.1/health", expect: "ok" });
});

test("readChecksFile: a gossipcheck check the type cannot use names the file and NAME.check", (t) => {
  const file = tempFile(t, "g.json", JSON.stringify({ db: { type: "tcp", path: "h:5432", check: "x" } }));
  const err = t.throws(() => readChecksFile(file), { instanceOf: ConfigError });
  t.is(err!.file, file);
  t.is(err!.key, "db.check");
});

test("readChecksFile: an unreadable file and bad YAML are ConfigErrors naming the file", (t) => {
  const missing = join(tmpdir(), "conclave-no-such-checks-file.yaml");
  const e1 = t.throws(() => readChecksFile(missing), { instanceOf: ConfigError });
  t.true(e1!.message.startsWith(`${missing}: cannot read the file`), e1!.message);
  const bad = tempFile(t, "bad.yaml", "- name: x\n  type: [unclosed\n");
  const e2 = t.throws(() => readChecksFile(bad), { instanceOf: ConfigError });
  t.true(e2!.message.startsWith(`${bad}: `), e2!.message);
  t.regex(e2!.message, /invalid YAML/);
});
