/**
 * The mail and log handlers run as child processes, the way the leader runs them: the
 * CONCLAVE_* environment and the JSON view on stdin. Mail goes to a fake sendmail that keeps
 * what it was given; syslog to a fake logger that keeps its arguments; the log file is real.
 */
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { memberDownEnv } from "../support/handler-env.ts";
import { handlerArgv } from "../support/conclave-entry.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "conclave-mail-log-"));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

const STDIN_DOC = {
  event: {
    id: 42,
    term: 3,
    time: "2026-01-02T03:04:05.000Z",
    type: "member-down",
    member: "web2",
    service: null,
    details: { last_report_ms: 1800 },
    hash: "9f2c",
  },
  members: [
    {
      name: "web1",
      address: "10.0.0.1:7400",
      status: "up",
      checks: { nginx: "passing" },
      services: { db: { state: "master", master: true, epoch: 4 } },
    },
    { name: "web2", address: "10.0.0.2:7400", status: "down", checks: { nginx: "failing" }, services: {} },
  ],
};

const CONCLAVE_ENV = memberDownEnv({ CONCLAVE_ATTEMPT: "1", CONCLAVE_CLUSTER: "shop" });

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  handler: "mail" | "log",
  args: readonly string[],
  env: Record<string, string> = {},
  stdin: string = JSON.stringify(STDIN_DOC),
): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, handlerArgv(handler, args), {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "", ...CONCLAVE_ENV, ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

/** A fake program: saves its arguments (one per line) and its stdin, then exits `code`. */
function fake(name: string, code = 0, say = ""): { path: string; args: () => string[]; stdin: () => string } {
  const path = join(dir, name);
  writeFileSync(
    path,
    `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > ${path}.args\ncat > ${path}.stdin\n${say ? `echo "${say}" >&2\n` : ""}exit ${code}\n`,
  );
  chmodSync(path, 0o755);
  return {
    path,
    args: () => readFileSync(`${path}.args`, "utf8").trimEnd().split("\n"),
    stdin: () => readFileSync(`${path}.stdin`, "utf8"),
  };
}

test("mail: one plain-text mail through sendmail -t -oi, with a Message-ID that is the same on every attempt", async (t) => {
  const sm = fake("sendmail-ok");
  const r = await run(
    "mail",
    ["--to", "ops@example.com, oncall@example.com", "--from", "conclave@web1.example.com"],
    {
      MAIL_SENDMAIL: sm.path,
    },
  );
  t.is(r.code, 0, r.stderr);
  t.regex(
    r.stdout,
    /^mail: sent member-down of web2 \(event 42, attempt 1\) to ops@example\.com, oncall@example\.com/,
  );
  t.deepEqual(sm.args(), ["-t", "-oi"]);
  const mail = sm.stdin();
  const [head, body] = mail.split("\n\n");
  t.regex(head!, /^From: conclave@web1\.example\.com$/m);
  t.regex(head!, /^To: ops@example\.com, oncall@example\.com$/m);
  t.regex(head!, /^Subject: \[conclave\] shop: member-down of web2$/m);
  t.regex(head!, /^Message-ID: <conclave\.42\.notify\.shop@conclave>$/m);
  t.regex(head!, /^Content-Type: text\/plain; charset=utf-8$/m);
  t.regex(body!, /^Event: {4}member-down \(id 42, term 3\)$/m);
  t.regex(body!, /^Member: {3}web2 \(10\.0\.0\.2:7400, now down\)$/m);
  t.regex(body!, /^Details: {2}\{"last_report_ms":1800\}$/m);
  t.regex(mail, /Members \(2\): 1 up, 1 down, 0 drained/);
  t.regex(mail, /web1 +10\.0\.0\.1:7400 +up +nginx: passing, master of db \(epoch 4\)/);

  const again = await run("mail", ["--to", "ops@example.com"], {
    MAIL_SENDMAIL: sm.path,
    CONCLAVE_ATTEMPT: "2",
    CONCLAVE_FENCE: "4:60",
  });
  t.is(again.code, 0, again.stderr);
  t.regex(sm.stdin(), /^Message-ID: <conclave\.42\.notify\.shop@conclave>$/m);
  t.regex(sm.stdin(), /^X-Conclave-Attempt: 2$/m);
});

test("mail: a name with a line break cannot add a header", async (t) => {
  const sm = fake("sendmail-inject");
  const doc = structuredClone(STDIN_DOC);
  doc.event.member = "web2\nBcc: victim@example.com";
  const r = await run("mail", ["--to", "ops@example.com"], { MAIL_SENDMAIL: sm.path }, JSON.stringify(doc));
  t.is(r.code, 0, r.stderr);
  const head = sm.stdin().split("\n\n")[0]!;
  t.notRegex(head, /^Bcc:/m);
  t.regex(head, /^Subject: \[conclave\] shop: member-down of web2 Bcc: victim@example\.com$/m);
});

test("mail: sendmail failing is exit 1 with what it said; bad settings are exit 2 naming the setting", async (t) => {
  const bad = fake("sendmail-bad", 75, "queue full");
  const failed = await run("mail", ["--to", "ops@example.com"], { MAIL_SENDMAIL: bad.path });
  t.is(failed.code, 1);
  t.regex(failed.stderr, /^mail: .*sendmail-bad -t -oi failed \(exit 75\): queue full/);

  const missing = await run("mail", ["--to", "ops@example.com", "--sendmail", join(dir, "nope")]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /--sendmail \(MAIL_SENDMAIL\): cannot run .*nope: ENOENT/);

  for (const [args, re] of [
    [[], /--to \(MAIL_TO\) is required/],
    [["--to", "not-an-address"], /--to \(MAIL_TO\): "not-an-address" is not a mail address/],
    [["--to", "a@b.c", "--from", "x y@z"], /--from \(MAIL_FROM\): "x y@z" is not a mail address/],
    [["--to", "a@b.c", "--bogus", "1"], /Unknown option '--bogus'/],
  ] as const) {
    const r = await run("mail", args);
    t.is(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    t.regex(r.stderr, re);
  }
  const help = await run("mail", ["--help"]);
  t.is(help.code, 0);
  t.regex(help.stdout, /^Usage: mail --to/);
});

test("log --file: one fsynced JSON line per event; a later attempt of the same event adds nothing", async (t) => {
  const file = join(dir, "events.jsonl");
  const first = await run("log", ["--file", file]);
  t.is(first.code, 0, first.stderr);
  t.regex(first.stdout, /recorded member-down of web2 \(event 42, attempt 1\)/);
  const again = await run("log", [], { LOG_FILE: file, CONCLAVE_ATTEMPT: "2", CONCLAVE_FENCE: "4:60" });
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /already recorded/);
  const other = await run("log", ["--file", file], { CONCLAVE_HANDLER: "audit" });
  t.is(other.code, 0, other.stderr);
  const lines = readFileSync(file, "utf8").trimEnd().split("\n");
  t.is(lines.length, 2, "one line per (event, handler)");
  t.like(JSON.parse(lines[0]!), {
    cluster: "shop",
    handler: "notify",
    event_id: 42,
    event: "member-down",
    member: "web2",
    attempt: 1,
    fence: "3:57",
    details: { last_report_ms: 1800 },
    summary: "member-down of web2; members 1 up, 1 down, 0 drained",
  });
  t.like(JSON.parse(lines[1]!), { handler: "audit", event_id: 42 });
});

test("log --syslog: one line through logger with the tag and a priority by event; failures are exit 1", async (t) => {
  const logger = fake("logger-ok");
  const r = await run("log", ["--syslog", "conclave", "--facility", "local3", "--logger", logger.path]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(logger.args(), [
    "-t",
    "conclave",
    "-p",
    "local3.warning",
    "--",
    "shop: member-down of web2 (event 42, attempt 1, fence 3:57); members 1 up, 1 down, 0 drained",
  ]);
  const up = await run(
    "log",
    ["--syslog", "conclave", "--logger", logger.path],
    { CONCLAVE_EVENT: "member-up" },
    JSON.stringify({ ...STDIN_DOC, event: { ...STDIN_DOC.event, type: "member-up" } }),
  );
  t.is(up.code, 0, up.stderr);
  t.is(logger.args()[3], "daemon.notice");

  const broken = fake("logger-bad", 1, "socket gone");
  const failed = await run("log", ["--syslog", "conclave", "--logger", broken.path]);
  t.is(failed.code, 1);
  t.regex(failed.stderr, /logger-bad -t conclave -p daemon\.warning failed \(exit 1\): socket gone/);
});

test("log: bad settings exit 2 naming the setting; bad handler input exits 1 and writes nothing", async (t) => {
  for (const [args, re] of [
    [[], /give exactly one of --file \(LOG_FILE\) and --syslog \(LOG_SYSLOG\)/],
    [["--file", "x", "--syslog", "y"], /give exactly one of/],
    [["--syslog", "has space"], /--syslog \(LOG_SYSLOG\): the tag must be/],
    [
      ["--syslog", "ok", "--facility", "nope"],
      /--facility \(LOG_FACILITY\): "nope" is not a syslog facility/,
    ],
  ] as const) {
    const r = await run("log", args);
    t.is(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
    t.regex(r.stderr, re);
  }
  const file = join(dir, "never.jsonl");
  const garbage = await run("log", ["--file", file], {}, "not json");
  t.is(garbage.code, 1);
  t.regex(garbage.stderr, /^log: standard input is not JSON/);
  t.false(existsSync(file));
  const unwritable = await run("log", ["--file", join(dir, "no-such-dir", "x.jsonl")]);
  t.is(unwritable.code, 1);
  t.regex(unwritable.stderr, /--file \(LOG_FILE\): cannot open .*x\.jsonl: ENOENT/);
});
