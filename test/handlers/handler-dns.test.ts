/**
 * The dns-rfc2136 handler: its DNS/TSIG codec and planning rules as units, then the handler
 * process against a real BIND `named` started here (a temp dir with the config, a dynamic
 * zone `example.test` and a key from `tsig-keygen`): end to end with a process cluster
 * (`kill -9` of a member removes it from DNS within 3 s), fencing, the minimum number of
 * records, TCP fallback, racing runs, and the failures (bad settings exit 2, an unreachable
 * server or a wrong TSIG secret exit 1). Tests needing BIND are skipped, saying so, when
 * `named`, `dig` or `tsig-keygen` is not installed.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import test, { type ExecutionContext } from "ava";
import { DnsClient, type UpdateResult } from "../../handlers/src/dns-client.ts";
import { type DnsApi, reconcile } from "../../handlers/src/dns-reconcile.ts";
import { planRecords } from "../../handlers/src/dns-records-plan.ts";
import { parseSettings, qualifyName, SettingsError } from "../../handlers/src/dns-rfc2136-settings.ts";
import { signMessage, TsigError, type TsigKey, verifyAnswer } from "../../handlers/src/dns-tsig.ts";
import {
  DnsWireError,
  decodeMessage,
  decodeTxt,
  encodeMessage,
  encodeTxt,
  type ResourceRecord,
  RRClass,
  RRType,
} from "../../handlers/src/dns-wire.ts";
import type { MemberView } from "../../handlers/src/handler-input.ts";
import { parseIp } from "../../handlers/src/ip-bytes.ts";
import { KeyFileError, loadKeyFile, parseKeyFile } from "../../handlers/src/tsig-key-file.ts";
import { type Command, encodeCommand } from "../../src/coordinator/commands.ts";
import { memberView } from "../../src/coordinator/member-view.ts";
import { CoordinatorState } from "../../src/coordinator/state-machine.ts";
import { eventsAfter, until } from "../support/cluster-wait.ts";
import { freePort, ProcessCluster } from "../support/process-cluster.ts";
import { handlerArgv } from "../support/conclave-entry.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

// ---------------------------------------------------------------------------------------------
// BIND on this machine

/** The path of an executable on PATH or in the sbin folders, or null. */
function findTool(name: string): string | null {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/sbin", "/sbin"];
  for (const d of dirs) if (d && existsSync(join(d, name))) return join(d, name);
  return null;
}

const NAMED = findTool("named");
const DIG = findTool("dig");
const KEYGEN = findTool("tsig-keygen");
const missing = [!NAMED && "named", !DIG && "dig", !KEYGEN && "tsig-keygen"].filter(Boolean);
/** `test.serial` when BIND is installed; otherwise a skip whose title says why. */
const bindTest = (title: string, fn: (t: ExecutionContext) => Promise<void>) =>
  missing.length === 0
    ? test.serial(title, fn)
    : test.serial.skip(
        `${title} [skipped: ${missing.join(", ")} not installed; apt-get install bind9 bind9-dnsutils]`,
        fn,
      );
if (missing.length > 0) {
  process.stderr.write(
    `handler-dns: ${missing.join(", ")} not found: the tests that need BIND are SKIPPED\n`,
  );
}

/** A `named` serving the dynamic zone example.test on 127.0.0.1:port. */
interface Named {
  readonly port: number;
  readonly dir: string;
  /** A key file as tsig-keygen wrote it, allowed to update the zone. */
  readonly keyFile: string;
  readonly proc: ChildProcess;
  output: string;
}

/** Start `named` in a temp dir; it is stopped and the dir removed at the end of the test. */
async function startNamed(t: { teardown(fn: () => unknown): void }): Promise<Named> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-named-"));
  const keyFile = join(dir, "conclave.key");
  writeFileSync(keyFile, execFileSync(KEYGEN!, ["-a", "hmac-sha256", "conclave-test"]));
  const port = await freePort();
  writeFileSync(
    join(dir, "example.test.zone"),
    [
      "$TTL 60",
      "@ IN SOA ns.example.test. admin.example.test. 1 60 60 600 60",
      "@ IN NS ns.example.test.",
      "ns IN A 127.0.0.1",
      "",
    ].join("\n"),
  );
  const conf = join(dir, "named.conf");
  writeFileSync(
    conf,
    `include "${keyFile}";
options {
  directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  pid-file none;
  session-keyfile none;
  recursion no;
  notify no;
  dnssec-validation no;
};
zone "example.test" {
  type primary;
  file "${join(dir, "example.test.zone")}";
  allow-update { key conclave-test; };
};
`,
  );
  const proc = spawn(NAMED!, ["-g", "-n", "1", "-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
  const named: Named = { port, dir, keyFile, proc, output: "" };
  const collect = (d: Buffer) => {
    named.output += d.toString();
  };
  proc.stdout!.on("data", collect);
  proc.stderr!.on("data", collect);
  t.teardown(async () => {
    if (proc.exitCode === null) {
      const gone = new Promise((r) => proc.once("exit", r));
      proc.kill("SIGKILL");
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await until(
    "named running",
    async () => {
      if (proc.exitCode !== null) throw new Error(`named exited ${proc.exitCode}:\n${named.output}`);
      return /\brunning\b/.test(named.output) ? true : undefined;
    },
    10_000,
  );
  return named;
}

/** What `dig +short` lists for NAME TYPE, sorted. */
async function dig(named: Named, name: string, type: string): Promise<string[]> {
  const out = await new Promise<string>((resolve, reject) =>
    execFile(
      DIG!,
      [`@127.0.0.1`, "-p", String(named.port), "+short", "+time=1", "+tries=1", name, type],
      (err, stdout) => (err ? reject(err) : resolve(stdout)),
    ),
  );
  return out.split("\n").filter(Boolean).sort();
}

// ---------------------------------------------------------------------------------------------
// Running the handler by hand

interface HandlerRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The stdin document for `members` ([name, address, status, checks?]). */
function view(members: [string, string, MemberView["status"], Record<string, string>?][]): string {
  return JSON.stringify({
    event: { id: 1, term: 1, type: "member-down" },
    members: members.map(([name, address, status, checks]) => ({
      name,
      address,
      status,
      checks: checks ?? {},
    })),
  });
}

/** Run the handler with `args`, fence `fence` and `stdin`; DNS_* variables in `env`. */
function runHandler(
  args: readonly string[],
  o: { fence?: string; stdin?: string; env?: Record<string, string>; member?: string } = {},
): Promise<HandlerRun> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DNS_")));
  const child = spawn(process.execPath, handlerArgv("dns-rfc2136", args), {
    cwd: ROOT,
    env: {
      ...base,
      CONCLAVE_EVENT: "member-down",
      CONCLAVE_EVENT_ID: "1",
      CONCLAVE_TERM: "1",
      CONCLAVE_FENCE: o.fence ?? "1:1",
      CONCLAVE_ATTEMPT: "1",
      CONCLAVE_HANDLER: "dns",
      CONCLAVE_MEMBER: o.member ?? "",
      CONCLAVE_CLUSTER: "conclave",
      ...o.env,
    },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const run: HandlerRun = { code: null, stdout: "", stderr: "" };
  child.stdout.on("data", (d: Buffer) => {
    run.stdout += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    run.stderr += d.toString();
  });
  child.stdin.on("error", () => {}); // a handler that exits before reading stdin
  child.stdin.end(o.stdin ?? view([]));
  return new Promise((resolve) =>
    child.on("close", (code) => {
      run.code = code;
      resolve(run);
    }),
  );
}

/** The flags pointing the handler at `named` for `name`. */
const flagsFor = (named: Named, name: string, extra: string[] = []) => [
  "--server",
  "127.0.0.1",
  "--port",
  String(named.port),
  "--zone",
  "example.test",
  "--name",
  name,
  "--key-file",
  named.keyFile,
  ...extra,
];

// ---------------------------------------------------------------------------------------------
// Units: addresses, the wire format, TSIG, key files, planning, settings, reconciliation

test("ip-bytes: IPv4 and IPv6 literals to bytes and canonical text; anything else is null", (t) => {
  t.deepEqual(Array.from(parseIp("127.0.0.11")!.bytes), [127, 0, 0, 11]);
  t.is(parseIp("127.0.0.11")!.type, "A");
  t.is(parseIp("2001:DB8:0:0:0::1")!.text, "2001:db8::1");
  t.is(parseIp("::1")!.text, "::1");
  t.is(parseIp("::")!.text, "::");
  t.is(parseIp("::ffff:10.0.0.1")!.text, "::ffff:a00:1");
  t.is(parseIp("1:0:0:2:0:0:0:3")!.text, "1:0:0:2::3");
  t.is(parseIp("1:0:2:3:4:5:6:7")!.text, "1:0:2:3:4:5:6:7", "a single zero group is not shortened");
  t.is(parseIp("fe80::1")!.bytes.length, 16);
  for (const bad of ["host.example", "1.2.3", "1.2.3.256", "fe80::1%eth0", "", "1::2::3"]) {
    t.is(parseIp(bad), null, bad);
  }
});

test("dns-wire: a message round-trips; TXT strings round-trip", (t) => {
  const rr: ResourceRecord = {
    name: "www.Example.test.",
    type: RRType.A,
    class: RRClass.IN,
    ttl: 30,
    data: Uint8Array.of(10, 0, 0, 1),
  };
  const wire = encodeMessage({
    id: 0x1234,
    flags: { qr: true, opcode: 5, aa: true, tc: false, rd: false, ra: false, rcode: 8 },
    questions: [{ name: "example.test", type: RRType.SOA, class: RRClass.IN }],
    answers: [rr],
    authorities: [{ ...rr, class: RRClass.ANY, ttl: 0, data: new Uint8Array(0) }],
    additionals: [],
  });
  const m = decodeMessage(wire);
  t.is(m.id, 0x1234);
  t.like(m.flags, { qr: true, opcode: 5, aa: true, rcode: 8 });
  t.deepEqual(m.questions, [{ name: "example.test.", type: RRType.SOA, class: RRClass.IN }]);
  t.is(m.answers[0]!.name, "www.Example.test.");
  t.deepEqual(Array.from(m.answers[0]!.data), [10, 0, 0, 1]);
  t.is(m.authorities[0]!.class, RRClass.ANY);
  t.is(m.tsig, null);
  t.deepEqual(decodeTxt(encodeTxt(["3:17", ""])), ["3:17", ""]);
  t.throws(() => encodeMessage({ ...m, questions: [{ name: "bad name", type: 1, class: 1 }] }), {
    instanceOf: DnsWireError,
  });
});

test("dns-wire: compressed names are read; forward or looping pointers and truncation are refused", (t) => {
  // Header: one question, one answer. Question: www.example.test A IN (at offset 12).
  // Answer owner: a pointer to offset 12.
  const q = Buffer.from([
    3,
    ...Buffer.from("www"),
    7,
    ...Buffer.from("example"),
    4,
    ...Buffer.from("test"),
    0,
  ]);
  const header = Buffer.from([0, 7, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0]);
  const answer = Buffer.from([0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 192, 0, 2, 1]);
  const msg = Buffer.concat([header, q, Buffer.from([0, 1, 0, 1]), answer]);
  const m = decodeMessage(msg);
  t.is(m.answers[0]!.name, "www.example.test.");
  t.true(m.flags.aa);
  // A pointer to itself: refused, not an endless loop.
  const loop = Buffer.concat([
    Buffer.from([0, 7, 0x84, 0, 0, 1, 0, 0, 0, 0, 0, 0]),
    Buffer.from([0xc0, 12, 0, 1, 0, 1]),
  ]);
  t.throws(() => decodeMessage(loop), { instanceOf: DnsWireError, message: /compression pointer/ });
  t.throws(() => decodeMessage(msg.subarray(0, msg.length - 2)), {
    instanceOf: DnsWireError,
    message: /truncated/,
  });
  t.throws(() => decodeMessage(Buffer.from([0, 1, 2])), { instanceOf: DnsWireError });
});

const KEY: TsigKey = { name: "conclave-test", algorithm: "hmac-sha256", secret: Buffer.alloc(32, 7) };

/** Wire form of a name, label by label. */
const wireName = (name: string) =>
  Buffer.concat([
    ...name.split(".").map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ]);

/**
 * A server's signed answer to a request whose MAC was `requestMac`, built independently of
 * dns-tsig.ts, straight from RFC 8945 4.3: MAC over (request MAC length and bytes, the answer,
 * the TSIG variables), then the TSIG record appended and ARCOUNT + 1.
 */
function signedAnswer(requestMac: Uint8Array, key: TsigKey, now: number): Buffer {
  const body = encodeMessage({
    id: 99,
    flags: { qr: true, opcode: 0, aa: true, tc: false, rd: false, ra: false, rcode: 0 },
    questions: [{ name: "www.example.test", type: RRType.A, class: RRClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
  });
  const name = wireName(key.name);
  const alg = wireName("hmac-sha256");
  const time = Buffer.alloc(6);
  time.writeUIntBE(now, 0, 6);
  const fudge = Buffer.from([0x01, 0x2c]); // 300
  const vars = Buffer.concat([
    name,
    Buffer.from([0, 255, 0, 0, 0, 0]),
    alg,
    time,
    fudge,
    Buffer.from([0, 0, 0, 0]),
  ]);
  const macLen = Buffer.alloc(2);
  macLen.writeUInt16BE(requestMac.length);
  const mac = createHmac("sha256", key.secret)
    .update(macLen)
    .update(requestMac)
    .update(body)
    .update(vars)
    .digest();
  const rdata = Buffer.concat([
    alg,
    time,
    fudge,
    Buffer.from([0, 32]),
    mac,
    Buffer.from([0, 99, 0, 0, 0, 0]),
  ]);
  const rdlen = Buffer.alloc(2);
  rdlen.writeUInt16BE(rdata.length);
  const out = Buffer.concat([body, name, Buffer.from([0, 250, 0, 255, 0, 0, 0, 0]), rdlen, rdata]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}

test("dns-tsig: a signed request carries a TSIG record; a server's signed answer verifies; tampering does not", (t) => {
  const now = 1_800_000_000;
  const req = encodeMessage({
    id: 99,
    flags: { qr: false, opcode: 0, aa: false, tc: false, rd: false, ra: false, rcode: 0 },
    questions: [{ name: "www.example.test", type: RRType.A, class: RRClass.IN }],
    answers: [],
    authorities: [],
    additionals: [],
  });
  const signed = signMessage(req, KEY, { now });
  const d = decodeMessage(signed.wire);
  t.is(d.tsig!.keyName, "conclave-test.");
  t.is(d.tsig!.algorithm, "hmac-sha256.");
  t.is(d.tsig!.timeSigned, now);
  t.is(d.tsig!.mac.length, 32);
  t.is(d.additionals.length, 0);

  const answer = signedAnswer(signed.mac, KEY, now);
  t.notThrows(() => verifyAnswer(answer, decodeMessage(answer), KEY, signed.mac, { now: now + 5 }));
  // Another secret, another request MAC, a flipped bit, a far clock: all refused.
  const other = { ...KEY, secret: Buffer.alloc(32, 8) };
  t.throws(() => verifyAnswer(answer, decodeMessage(answer), other, signed.mac, { now }), {
    instanceOf: TsigError,
    message: /does not verify/,
  });
  t.throws(() => verifyAnswer(answer, decodeMessage(answer), KEY, Buffer.alloc(32), { now }), {
    instanceOf: TsigError,
  });
  const flipped = Buffer.from(answer);
  flipped[3]! ^= 0x01;
  t.throws(() => verifyAnswer(flipped, decodeMessage(flipped), KEY, signed.mac, { now }), {
    instanceOf: TsigError,
  });
  t.throws(() => verifyAnswer(answer, decodeMessage(answer), KEY, signed.mac, { now: now + 1000 }), {
    instanceOf: TsigError,
    message: /clock/,
  });
  t.throws(() => verifyAnswer(req, decodeMessage(req), KEY, signed.mac, { now }), {
    instanceOf: TsigError,
    message: /not signed/,
  });
});

test("tsig-key-file: tsig-keygen's format, with comments; bad files are refused naming the file", (t) => {
  const key = parseKeyFile(
    `# made by tsig-keygen\nkey "conclave-test" {\n\talgorithm hmac-sha256; // the default\n\tsecret "${Buffer.alloc(32, 1).toString("base64")}";\n};\n`,
    "k.conf",
  );
  t.is(key.name, "conclave-test");
  t.is(key.algorithm, "hmac-sha256");
  t.deepEqual(Buffer.from(key.secret), Buffer.alloc(32, 1));
  t.is(parseKeyFile(`key other { algorithm HMAC-SHA512; secret "YWJj"; };`, "k").algorithm, "hmac-sha512");
  t.throws(() => parseKeyFile("", "k.conf"), {
    instanceOf: KeyFileError,
    message: /k\.conf: expected one key/,
  });
  t.throws(
    () =>
      parseKeyFile(
        `key a { algorithm hmac-sha256; secret "YWJj"; }; key b { algorithm hmac-sha256; secret "YWJj"; };`,
        "k",
      ),
    {
      message: /found 2/,
    },
  );
  t.throws(() => parseKeyFile(`key a { algorithm rsa; secret "YWJj"; };`, "k"), { message: /algorithm rsa/ });
  t.throws(() => parseKeyFile(`key a { algorithm hmac-sha256; secret "not base64!"; };`, "k"), {
    message: /not base64/,
  });
  t.throws(() => parseKeyFile(`key a { algorithm hmac-sha256; };`, "k"), { message: /no secret/ });
});

const member = (
  name: string,
  address: string,
  status: MemberView["status"],
  checks: MemberView["checks"] = {},
): MemberView => ({ name, address, status, checks, services: {} });

test("plan: up members (passing the check) are listed, IPv6 as AAAA; host names are skipped with a warning", (t) => {
  const members = [
    member("a", "10.0.0.1:7000", "up", { web: "passing" }),
    member("b", "[2001:db8::1]:7000", "up", { web: "passing" }),
    member("c", "10.0.0.3:7000", "up", { web: "failing" }),
    member("d", "10.0.0.4:7000", "drained", { web: "passing" }),
    member("e", "10.0.0.5:7000", "down"),
    member("f", "10.0.0.6:7000", "left"),
    member("g", "web7.example:7000", "up", { web: "passing" }),
    member("h", "10.0.0.8:7000", "up"),
  ];
  const withCheck = planRecords({ members, current: [], check: "web", minRecords: 0, eventMember: "" });
  t.deepEqual(
    withCheck.records.map((r) => `${r.type} ${r.text}`),
    ["A 10.0.0.1", "AAAA 2001:db8::1"],
  );
  t.is(withCheck.warnings.length, 1);
  t.regex(withCheck.warnings[0]!, /member g skipped: .*web7\.example.* not an IP address/);
  const noCheck = planRecords({ members, current: [], check: null, minRecords: 0, eventMember: "" });
  t.deepEqual(
    noCheck.records.map((r) => r.text),
    ["10.0.0.1", "10.0.0.3", "10.0.0.8", "2001:db8::1"],
  );
});

test("plan: below --min-records it keeps current records, the event's member first, then listed ones", (t) => {
  const ip = (s: string) => parseIp(s)!;
  const members = [
    member("a", "10.0.0.1:1", "down"),
    member("b", "10.0.0.2:1", "down"),
    member("c", "10.0.0.3:1", "left"),
  ];
  const current = ["10.0.0.9", "10.0.0.3", "10.0.0.1", "10.0.0.2"].map(ip);
  const plan = (min: number, eventMember: string) =>
    planRecords({ members, current, check: null, minRecords: min, eventMember }).records.map((r) => r.text);
  t.deepEqual(plan(1, "b"), ["10.0.0.2"]);
  t.deepEqual(plan(2, "b"), ["10.0.0.1", "10.0.0.2"]);
  t.deepEqual(plan(3, "b"), ["10.0.0.1", "10.0.0.2", "10.0.0.3"], "left after down");
  t.deepEqual(plan(4, ""), ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.9"], "unknown last");
  t.deepEqual(plan(0, "b"), []);
  const short = planRecords({ members, current: [], check: null, minRecords: 1, eventMember: "" });
  t.deepEqual(short.records, []);
  t.regex(short.warnings.join("\n"), /fewer than --min-records 1/);
  const kept = planRecords({ members, current, check: null, minRecords: 1, eventMember: "a" });
  t.regex(kept.warnings[0]!, /keeping 10\.0\.0\.1 \(member a, down\)/);
});

test("plan: with --check, a member is listed only while the check is passing in the committed view, never while pending", (t) => {
  // The committed view as the leader builds handler stdin from it, after: m1 and m2 joined and
  // passed; m3 joined, passed, failed (its server stopped), and its agent restarted (re-join).
  const state = new CoordinatorState();
  state.restore(1, new Uint8Array());
  let index = 1;
  const step = (type: string, member: string, details: Record<string, unknown> = {}) =>
    state.apply({
      term: 2,
      index: ++index,
      type: "normal",
      data: encodeCommand({
        type: "event",
        event: { time: "2026-11-22T10:00:00.000Z", type, member, service: null, details },
      } as Command),
    });
  const join = (name: string) =>
    step("member-joined", name, {
      address: `127.0.0.${10 + Number(name[1])}:7400`,
      services: [],
      checks: { web: "pending" },
    });
  const listed = () =>
    planRecords({
      members: state.members.list().map((m) => memberView(m, state.masters)),
      current: [],
      check: "web",
      minRecords: 0,
      eventMember: "",
    }).records.map((r) => r.text);
  for (const m of ["m1", "m2", "m3"]) join(m);
  t.deepEqual(listed(), [], "just joined: every check pending, nothing listed");
  for (const m of ["m1", "m2", "m3"]) step("check-passing", m, { check: "web" });
  t.deepEqual(listed(), ["127.0.0.11", "127.0.0.12", "127.0.0.13"]);
  step("check-failing", "m3", { check: "web" });
  t.deepEqual(listed(), ["127.0.0.11", "127.0.0.12"]);
  join("m3"); // the restarted agent registers before it has run the check
  t.is(state.members.get("m3")?.checks.web, "pending");
  t.deepEqual(listed(), ["127.0.0.11", "127.0.0.12"]);
  // m1 restarts while its server is fine: dropped until its check has passed again.
  join("m1");
  t.deepEqual(listed(), ["127.0.0.12"]);
  step("check-passing", "m1", { check: "web" });
  t.deepEqual(listed(), ["127.0.0.11", "127.0.0.12"]);
  // And the plan itself, on a hand-made view: pending (or an unknown state) is not passing.
  const plan = planRecords({
    members: [
      member("a", "10.0.0.1:1", "up", { web: "pending" }),
      member("b", "10.0.0.2:1", "up", { web: "passing" }),
    ],
    current: [],
    check: "web",
    minRecords: 0,
    eventMember: "",
  });
  t.deepEqual(
    plan.records.map((r) => r.text),
    ["10.0.0.2"],
  );
});

test("settings: flags win over DNS_* variables; names are qualified in the zone; bad ones are named", (t) => {
  const env = { DNS_SERVER: "192.0.2.1", DNS_ZONE: "example.test", DNS_NAME: "www", DNS_KEY_FILE: "/k" };
  const s = parseSettings(["--server", "127.0.0.1", "--ttl", "5"], env);
  t.like(s, {
    server: "127.0.0.1",
    port: 53,
    zone: "example.test.",
    name: "www.example.test.",
    fenceName: "_conclave-fence.www.example.test.",
    ttl: 5,
    minRecords: 1,
    timeoutMs: 3000,
    check: null,
  });
  t.is(parseSettings(["--help"], {}), "help");
  t.is(qualifyName("@", "example.test"), "example.test.");
  t.is(qualifyName("www.Example.test", "example.test."), "www.example.test.");
  t.is(qualifyName("a.b", "example.test"), "a.b.example.test.");
  const bad = (argv: string[], re: RegExp) =>
    t.throws(() => parseSettings(argv, env), { instanceOf: SettingsError, message: re });
  bad(["--port", "x"], /--port \(DNS_PORT\)/);
  bad(["--min-records", "-1"], /--min-records/);
  bad(["--name", "www.other.test."], /not inside --zone/);
  bad(["--timeout", "3"], /--timeout \(DNS_TIMEOUT\)/);
  bad(["--nope"], /Unknown option '--nope'/);
  t.throws(() => parseSettings([], { ...env, DNS_ZONE: "" }), { message: /--zone \(DNS_ZONE\) is required/ });
});

/** A fake server holding the TXT fence and the A records, with the update semantics RFC 2136 gives. */
class FakeDns implements DnsApi {
  txt: string[] = [];
  a: string[] = [];
  updates = 0;
  queries = 0;
  /** Called before each update: lets a test change the data under the handler (a race). */
  beforeUpdate: () => void = () => {};
  private rr(name: string, type: number, data: Uint8Array): ResourceRecord {
    return { name, type, class: RRClass.IN, ttl: 30, data };
  }
  async query(name: string, type: number): Promise<ResourceRecord[]> {
    this.queries++;
    if (type === RRType.TXT) return this.txt.map((s) => this.rr(name, type, encodeTxt([s])));
    if (type === RRType.A) return this.a.map((s) => this.rr(name, type, parseIp(s)!.bytes));
    return [];
  }
  async update(
    _zone: string,
    prerequisites: readonly ResourceRecord[],
    updates: readonly ResourceRecord[],
  ): Promise<UpdateResult> {
    this.updates++;
    this.beforeUpdate();
    const txtPre = prerequisites.filter((p) => p.type === RRType.TXT && p.class === RRClass.IN);
    const now = txtPre.map((p) => decodeTxt(p.data).join(""));
    if (JSON.stringify(now) !== JSON.stringify(this.txt)) return { ok: false, rcode: "NXRRSET" };
    for (const u of updates) {
      if (u.type === RRType.TXT && u.class === RRClass.IN) this.txt = [decodeTxt(u.data).join("")];
      if (u.type === RRType.A && u.class === RRClass.ANY) this.a = [];
      if (u.type === RRType.A && u.class === RRClass.IN) this.a.push(`${[...u.data].join(".")}`);
    }
    return { ok: true };
  }
}

const reconcileWith = (dns: DnsApi, fence: string, members: MemberView[], warn: string[] = []) =>
  reconcile({
    dns,
    zone: "example.test.",
    name: "www.example.test.",
    fenceName: "_conclave-fence.www.example.test.",
    ttl: 30,
    fence,
    members,
    eventMember: "",
    check: null,
    minRecords: 1,
    warn: (l) => warn.push(l),
    maxAttempts: 3,
  });

test("reconcile: an older fence sends no update; a raced update is read again and retried", async (t) => {
  const dns = new FakeDns();
  dns.txt = ["5:10"];
  dns.a = ["10.0.0.1"];
  const stale = await reconcileWith(dns, "4:99", [member("b", "10.0.0.2:1", "up")]);
  t.deepEqual(stale, { kind: "stale", storedFence: "5:10" });
  t.is(dns.updates, 0);
  t.deepEqual(dns.a, ["10.0.0.1"]);

  // Another run writes fence 5:11 between our first read and our first update.
  let raced = false;
  dns.beforeUpdate = () => {
    if (raced) return;
    raced = true;
    dns.txt = ["5:11"];
  };
  const warn: string[] = [];
  const ok = await reconcileWith(dns, "5:12", [member("b", "10.0.0.2:1", "up")], warn);
  t.like(ok, { kind: "updated", attempts: 2, previousFence: "5:11", changed: true });
  t.deepEqual(dns.txt, ["5:12"]);
  t.deepEqual(dns.a, ["10.0.0.2"]);
  t.regex(warn.join("\n"), /changed between our read and our update \(NXRRSET\)/);

  // A writer with a newer fence wins the race: the re-read finds us stale.
  dns.beforeUpdate = () => {
    dns.txt = ["6:1"];
  };
  t.like(await reconcileWith(dns, "5:13", []), { kind: "stale", storedFence: "6:1" });
  // A writer that never stops: give up (exit 1, the runner retries later).
  let n = 0;
  dns.beforeUpdate = () => {
    dns.txt = [`7:${++n}`];
  };
  await t.throwsAsync(reconcileWith(dns, "9:1", []), { message: /gave up after 3 attempts/ });
});

// ---------------------------------------------------------------------------------------------
// The handler process: usage and failures that need no DNS server

test.serial("bad usage and settings exit 2 naming the setting; --help prints the usage", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-dns-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const help = await runHandler(["--help"]);
  t.is(help.code, 0);
  t.regex(help.stdout, /^Usage: dns-rfc2136 --server HOST --zone ZONE --name NAME --key-file FILE/);
  t.regex(help.stdout, /DNS_MIN_RECORDS/);
  // The events it must be subscribed to: the member events always, the check events for
  // --check, the drain events for drain (each on the line that names them).
  t.regex(help.stdout, /^ {2}member-joined, member-up, member-down, member-left +always$/m);
  t.regex(help.stdout, /^ {2}check-failing, check-passing +also needed with --check NAME/m);
  t.regex(help.stdout, /^ {2}member-drained, member-undrained +also needed for drain/m);

  const noZone = await runHandler(["--server", "127.0.0.1", "--name", "www", "--key-file", "/k"]);
  t.is(noZone.code, 2);
  t.is(noZone.stderr.split("\n")[0], "dns-rfc2136: --zone (DNS_ZONE) is required");
  t.regex(noZone.stderr, /Usage: dns-rfc2136/);

  const noKey = await runHandler([], {
    env: {
      DNS_SERVER: "127.0.0.1",
      DNS_ZONE: "example.test",
      DNS_NAME: "www",
      DNS_KEY_FILE: join(dir, "nope.key"),
    },
  });
  t.is(noKey.code, 2);
  t.regex(noKey.stderr, /^dns-rfc2136: --key-file \(DNS_KEY_FILE\): cannot read .*nope\.key: ENOENT\n$/);

  writeFileSync(join(dir, "garbage.key"), "not a key\n");
  const garbage = await runHandler(["--server", "127.0.0.1", "--zone", "example.test", "--name", "www"], {
    env: { DNS_KEY_FILE: join(dir, "garbage.key") },
  });
  t.is(garbage.code, 2);
  t.regex(garbage.stderr, /--key-file \(DNS_KEY_FILE\): .*garbage\.key: expected one key statement/);

  const badPort = await runHandler(["--port", "99999"], {
    env: { DNS_SERVER: "127.0.0.1", DNS_ZONE: "example.test", DNS_NAME: "www", DNS_KEY_FILE: "/k" },
  });
  t.is(badPort.code, 2);
  t.regex(badPort.stderr, /--port \(DNS_PORT\) must be a whole number from 1 to 65535/);
});

test.serial("an unreachable server (a closed port) exits 1 with a clear message", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-dns-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, "k.key");
  writeFileSync(
    keyFile,
    `key "k" { algorithm hmac-sha256; secret "${Buffer.alloc(32, 3).toString("base64")}"; };\n`,
  );
  const port = await freePort(); // nothing listens there
  const started = Date.now();
  const r = await runHandler(
    ["--server", "127.0.0.1", "--port", String(port), "--zone", "example.test", "--name", "www"],
    { env: { DNS_KEY_FILE: keyFile, DNS_TIMEOUT: "2s" }, stdin: view([["m1", "127.0.0.11:1", "up"]]) },
  );
  t.is(r.code, 1, r.stderr);
  t.regex(
    r.stderr,
    new RegExp(`^dns-rfc2136: cannot reach DNS server 127\\.0\\.0\\.1:${port} over UDP: connection refused`),
  );
  t.true(Date.now() - started < 5000);
});

// ---------------------------------------------------------------------------------------------
// Against named

bindTest(
  "end to end: kill -9 of a member removes it from DNS within 3 s; it returns when restarted",
  async (t) => {
    const named = await startNamed(t);
    const c = await ProcessCluster.create({
      names: ["e1", "e2", "e3"],
      members: ["m1", "m2"],
      memberHosts: { m1: "127.0.0.11", m2: "127.0.0.12" },
      logLevel: "warn",
    });
    t.teardown(() => c.destroy());
    // The handler as users run it, settings from the environment; from the TypeScript sources.
    const wrapper = join(c.dir, "dns-rfc2136");
    writeFileSync(
      wrapper,
      [
        "#!/bin/sh",
        `export DNS_SERVER=127.0.0.1 DNS_PORT=${named.port} DNS_ZONE=example.test DNS_KEY_FILE=${named.keyFile}`,
        `cd ${ROOT} && exec ${[process.execPath, ...handlerArgv("dns-rfc2136", [])].join(" ")} --name www --ttl 5 "$@"`,
        "",
      ].join("\n"),
    );
    chmodSync(wrapper, 0o755);
    c.setElectorExtra(
      `handlers:\n  - name: dns\n    on: [member-joined, member-up, member-down, member-left]\n    run: ${wrapper}\n    timeout: 10s\n`,
    );
    c.startAll();
    await c.waitForLeader();
    const api = c.client("e1", 10_000);
    t.teardown(() => api.close());
    const listed = (want: string[]) => async () => {
      const got = await dig(named, "www.example.test", "A");
      return JSON.stringify(got) === JSON.stringify(want) ? got : undefined;
    };
    await until("both members in DNS", listed(["127.0.0.11", "127.0.0.12"]), 20_000);

    const killedAt = Date.now();
    await c.kill("m1");
    await until("m1 gone from DNS", listed(["127.0.0.12"]), 10_000);
    const ms = Date.now() - killedAt;
    t.log(`kill -9 of m1 -> dig no longer lists 127.0.0.11 after ${ms} ms`);
    t.true(ms < 3000, `took ${ms} ms`);
    const fence = await dig(named, "_conclave-fence.www.example.test", "TXT");
    t.regex(fence[0] ?? "", /^"\d+:\d+"$/);

    c.start("m1");
    await until("m1 back in DNS", listed(["127.0.0.11", "127.0.0.12"]), 20_000);
    const events = (await api.events(0, "", 10_000)).eventsJson.map((j) => JSON.parse(j) as { type: string });
    t.false(
      events.some((e) => e.type === "handler-failed"),
      "no handler run failed for good",
    );
  },
);

bindTest("a run with an older fence changes nothing", async (t) => {
  const named = await startNamed(t);
  const flags = flagsFor(named, "www");
  const first = await runHandler(flags, {
    fence: "3:20",
    stdin: view([
      ["m1", "127.0.0.11:1", "up"],
      ["m2", "127.0.0.12:1", "up"],
    ]),
  });
  t.is(first.code, 0, first.stderr);
  t.deepEqual(await dig(named, "www.example.test", "A"), ["127.0.0.11", "127.0.0.12"]);
  t.deepEqual(await dig(named, "_conclave-fence.www.example.test", "TXT"), ['"3:20"']);

  // Older term (2:99 < 3:20), and older index in the same term (3:19): a different set each.
  for (const fence of ["2:99", "3:19"]) {
    const old = await runHandler(flags, { fence, stdin: view([["m3", "127.0.0.13:1", "up"]]) });
    t.is(old.code, 0, old.stderr);
    t.regex(old.stdout, new RegExp(`stale fence ${fence}: a newer fence 3:20 is already applied`));
  }
  t.deepEqual(await dig(named, "www.example.test", "A"), ["127.0.0.11", "127.0.0.12"]);
  t.deepEqual(await dig(named, "_conclave-fence.www.example.test", "TXT"), ['"3:20"']);

  // A newer fence applies, and an IPv6 member gets an AAAA record.
  const newer = await runHandler(flags, {
    fence: "3:21",
    stdin: view([
      ["m3", "127.0.0.13:1", "up"],
      ["m4", "[2001:db8::4]:1", "up"],
    ]),
  });
  t.is(newer.code, 0, newer.stderr);
  t.deepEqual(await dig(named, "www.example.test", "A"), ["127.0.0.13"]);
  t.deepEqual(await dig(named, "www.example.test", "AAAA"), ["2001:db8::4"]);
  t.deepEqual(await dig(named, "_conclave-fence.www.example.test", "TXT"), ['"3:21"']);
});

bindTest("--min-records: with no member up the name keeps at least that many records", async (t) => {
  const named = await startNamed(t);
  const three = view([
    ["m1", "127.0.0.11:1", "up"],
    ["m2", "127.0.0.12:1", "up"],
    ["m3", "127.0.0.13:1", "up"],
  ]);
  t.is((await runHandler(flagsFor(named, "www"), { fence: "1:1", stdin: three })).code, 0);
  t.is((await runHandler(flagsFor(named, "www"), { fence: "1:2", stdin: three })).code, 0);
  const noneUp = view([
    ["m1", "127.0.0.11:1", "down"],
    ["m2", "127.0.0.12:1", "drained"],
    ["m3", "127.0.0.13:1", "down"],
  ]);
  // Default --min-records 1: one record stays, the event's member (m3, just went down).
  const one = await runHandler(flagsFor(named, "www"), { fence: "1:3", stdin: noneUp, member: "m3" });
  t.is(one.code, 0, one.stderr);
  t.deepEqual(await dig(named, "www.example.test", "A"), ["127.0.0.13"]);
  t.regex(one.stderr, /keeping 127\.0\.0\.13 \(member m3, down\) so the name keeps at least 1 record/);

  const two = await runHandler(flagsFor(named, "web", ["--min-records", "2"]), {
    fence: "1:4",
    stdin: three,
  });
  t.is(two.code, 0, two.stderr);
  const twoDown = await runHandler(flagsFor(named, "web"), {
    fence: "1:5",
    stdin: noneUp,
    env: { DNS_MIN_RECORDS: "2" },
  });
  t.is(twoDown.code, 0, twoDown.stderr);
  t.is((await dig(named, "web.example.test", "A")).length, 2);

  // --min-records 0 lets the name become empty.
  const zero = await runHandler(flagsFor(named, "web", ["--min-records", "0"]), {
    fence: "1:6",
    stdin: noneUp,
  });
  t.is(zero.code, 0, zero.stderr);
  t.deepEqual(await dig(named, "web.example.test", "A"), []);
});

bindTest("a wrong TSIG secret or an unknown key exits 1 naming the failure; nothing changes", async (t) => {
  const named = await startNamed(t);
  const good = readFileSync(named.keyFile, "utf8");
  const wrongSecret = join(named.dir, "wrong.key");
  writeFileSync(
    wrongSecret,
    good.replace(/secret "[^"]+"/, `secret "${Buffer.alloc(32, 9).toString("base64")}"`),
  );
  const r = await runHandler(
    flagsFor(named, "www").map((f) => (f === named.keyFile ? wrongSecret : f)),
    {
      stdin: view([["m1", "127.0.0.11:1", "up"]]),
    },
  );
  t.is(r.code, 1);
  t.regex(r.stderr, /^dns-rfc2136: the server rejected the signature \(BADSIG\)/);

  const unknown = join(named.dir, "unknown.key");
  writeFileSync(unknown, good.replace('key "conclave-test"', 'key "someone-else"'));
  const u = await runHandler(
    flagsFor(named, "www").map((f) => (f === named.keyFile ? unknown : f)),
    {
      stdin: view([["m1", "127.0.0.11:1", "up"]]),
    },
  );
  t.is(u.code, 1);
  t.regex(u.stderr, /BADKEY/);
  t.deepEqual(await dig(named, "www.example.test", "A"), []);
});

bindTest("many records go over TCP; racing runs end with the newest fence's records", async (t) => {
  const named = await startNamed(t);
  // 80 members: the answer does not fit 512 bytes of UDP, so reading it needs TCP.
  const many = view(
    Array.from(
      { length: 80 },
      (_, i) => [`m${i}`, `10.1.${i >> 4}.${(i % 16) + 1}:1`, "up"] as [string, string, "up"],
    ),
  );
  const big = await runHandler(flagsFor(named, "big"), { fence: "1:1", stdin: many });
  t.is(big.code, 0, big.stderr);
  const again = await runHandler(flagsFor(named, "big"), { fence: "1:2", stdin: many });
  t.is(again.code, 0, again.stderr);
  t.regex(again.stdout, /unchanged/, "the 80 records were read back (over TCP) and found equal");
  t.is((await dig(named, "big.example.test", "A")).length, 80);

  // Six runs at once, fence 2:i listing only 127.0.0.1i: whatever the order, the newest wins.
  const runs = await Promise.all(
    [1, 2, 3, 4, 5, 6].map((i) =>
      runHandler(flagsFor(named, "race"), {
        fence: `2:${i}`,
        stdin: view([[`m${i}`, `127.0.0.1${i}:1`, "up"]]),
      }),
    ),
  );
  for (const r of runs) t.is(r.code, 0, r.stderr);
  t.deepEqual(await dig(named, "race.example.test", "A"), ["127.0.0.16"]);
  t.deepEqual(await dig(named, "_conclave-fence.race.example.test", "TXT"), ['"2:6"']);
});

bindTest(
  "a write between our read and our update fails its prerequisites at named: read again, then retry or stop as stale",
  async (t) => {
    const named = await startNamed(t);
    const client = new DnsClient({
      server: { host: "127.0.0.1", port: named.port },
      key: loadKeyFile(named.keyFile),
      timeoutMs: 2000,
    });
    const flags = flagsFor(named, "www");
    t.is((await runHandler(flags, { fence: "4:0", stdin: view([["m0", "127.0.0.10:1", "up"]]) })).code, 0);
    /** The real client, with another run (fence `racer`) done just before our first update. */
    const racingWith = (racer: string, address: string): DnsApi => {
      let raced = false;
      return {
        query: (name, type) => client.query(name, type),
        update: async (zone, prerequisites, updates) => {
          if (!raced) {
            raced = true;
            const r = await runHandler(flags, { fence: racer, stdin: view([["mr", address, "up"]]) });
            t.is(r.code, 0, r.stderr);
          }
          return client.update(zone, prerequisites, updates);
        },
      };
    };
    const warnings: string[] = [];
    const options = (dns: DnsApi, fence: string) => ({
      dns,
      zone: "example.test.",
      name: "www.example.test.",
      fenceName: "_conclave-fence.www.example.test.",
      ttl: 30,
      fence,
      members: [member("m1", "127.0.0.11:1", "up")],
      eventMember: "",
      check: null,
      minRecords: 1,
      warn: (l: string) => warnings.push(l),
    });

    // An older run (4:3) writes in between: named refuses our first update, we read 4:3 and win.
    const won = await reconcile(options(racingWith("4:3", "127.0.0.13:1"), "4:5"));
    t.like(won, { kind: "updated", attempts: 2, previousFence: "4:3" });
    t.regex(warnings.join("\n"), /changed between our read and our update \((NXRRSET|YXRRSET)\)/);
    t.deepEqual(await dig(named, "www.example.test", "A"), ["127.0.0.11"]);
    t.deepEqual(await dig(named, "_conclave-fence.www.example.test", "TXT"), ['"4:5"']);

    // A newer run (4:9) writes in between, listing the same address: only the fence TXT changed,
    // so only its prerequisite can catch it. Our update is refused; the re-read finds us stale.
    const lost = await reconcile(options(racingWith("4:9", "127.0.0.11:1"), "4:6"));
    t.deepEqual(lost, { kind: "stale", storedFence: "4:9" });
    t.deepEqual(await dig(named, "www.example.test", "A"), ["127.0.0.11"]);
    t.deepEqual(await dig(named, "_conclave-fence.www.example.test", "TXT"), ['"4:9"']);
  },
);

bindTest(
  "a restarted agent whose checked server is dead is never listed: dig every 50 ms across two restarts",
  async (t) => {
    const named = await startNamed(t);
    const names = ["m1", "m2", "m3"];
    // One HTTP server per member, standing in for its nginx; the test can stop each.
    const servers = new Map<string, HttpServer>();
    const ports = new Map<string, number>();
    for (const m of names) {
      const server = createHttpServer((_req, res) => res.end("ok\n"));
      await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
      servers.set(m, server);
      ports.set(m, (server.address() as AddressInfo).port);
      t.teardown(() => {
        server.closeAllConnections();
        server.close();
      });
    }
    const c = await ProcessCluster.create({
      names: ["e1", "e2", "e3"],
      members: names,
      memberHosts: { m1: "127.0.0.11", m2: "127.0.0.12", m3: "127.0.0.13" },
      logLevel: "warn",
      // Long enough that the first restart re-joins while the member is still up.
      memberTimeout: "3s",
    });
    t.teardown(() => c.destroy());
    for (const m of names) {
      c.setMemberExtra(
        m,
        [
          "checks:",
          "  - name: web",
          "    type: http",
          `    url: http://127.0.0.1:${ports.get(m)}/`,
          // The defaults, as in the incident this reproduces: with a restarted agent assumed
          // passing, the dead server was listed until `fall` runs had failed (about 2 s).
          "    interval: 2s",
          "    fall: 2",
          "    rise: 2",
        ].join("\n"),
      );
    }
    const wrapper = join(c.dir, "dns-rfc2136");
    writeFileSync(
      wrapper,
      [
        "#!/bin/sh",
        `export DNS_SERVER=127.0.0.1 DNS_PORT=${named.port} DNS_ZONE=example.test DNS_KEY_FILE=${named.keyFile}`,
        `cd ${ROOT} && exec ${[process.execPath, ...handlerArgv("dns-rfc2136", [])].join(" ")} --name www --ttl 5 --check web "$@"`,
        "",
      ].join("\n"),
    );
    chmodSync(wrapper, 0o755);
    c.setElectorExtra(
      [
        "handlers:",
        "  - name: dns",
        "    on: [member-joined, member-up, member-down, member-left, check-failing, check-passing]",
        `    run: ${wrapper}`,
        "    timeout: 10s",
        "",
      ].join("\n"),
    );
    c.startAll();
    await c.waitForLeader();
    const api = c.client("e1", 10_000);
    t.teardown(() => api.close());
    const listed = (want: string[]) => async () => {
      const got = await dig(named, "www.example.test", "A");
      return JSON.stringify(got) === JSON.stringify(want) ? got : undefined;
    };
    await until("all three in DNS", listed(["127.0.0.11", "127.0.0.12", "127.0.0.13"]), 30_000);

    // m3's server dies: its check fails and DNS drops it.
    const dead = servers.get("m3")!;
    dead.closeAllConnections();
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    await until("m3 gone from DNS", listed(["127.0.0.11", "127.0.0.12"]), 15_000);

    // From here on, every 50 ms: what does DNS list?
    const polls: string[][] = [];
    const digErrors: string[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        try {
          polls.push(await dig(named, "www.example.test", "A"));
        } catch (e) {
          digErrors.push(String(e));
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    t.teardown(async () => {
      polling = false;
      await poller;
    });

    const lastId = async () => (await eventsAfter(api)).at(-1)!.id;
    /** The restarted agent's check is committed failing again, and DNS has run for that. */
    const failingAgain = async (since: number) => {
      const failing = await until(
        "m3's check committed failing again",
        async () =>
          (await eventsAfter(api, since)).find(
            (e) => e.type === "check-failing" && e.member === "m3" && e.details.check === "web",
          ),
        20_000,
      );
      await until(
        "the dns run for it done",
        async () =>
          (await eventsAfter(api, failing.id)).find(
            (e) =>
              e.type === "handler-succeeded" &&
              e.details.handler === "dns" &&
              typeof e.details.event === "number" &&
              e.details.event >= failing.id,
          ),
        20_000,
      );
      const events = await eventsAfter(api, since);
      // How the restarted agent came back, and what the view said then: its check pending.
      const back = events.filter(
        (e) => e.member === "m3" && (e.type === "member-joined" || e.type === "member-up"),
      );
      t.true(back.length > 0, "the restart is committed as a re-join or member-up");
      for (const e of back) t.deepEqual(e.details.checks, { web: "pending" }, `${e.type} ${e.id}`);
      t.false(
        events.some((e) => e.type === "check-passing" && e.member === "m3"),
        "m3's check never passed",
      );
      return events;
    };

    // 1. Restarted at once (within member_timeout: the member never goes down).
    const since1 = await lastId();
    await c.kill("m3");
    c.start("m3");
    const first = await failingAgain(since1);
    t.log(
      `restart 1: ${first
        .filter((e) => e.member === "m3")
        .map((e) => e.type)
        .join(", ")}`,
    );

    // 2. Restarted after the leader declared it down.
    const since2 = await lastId();
    await c.kill("m3");
    await until("m3 down", async () =>
      (await eventsAfter(api, since2)).find((e) => e.type === "member-down" && e.member === "m3"),
    );
    c.start("m3");
    const second = await failingAgain(since2);
    t.log(
      `restart 2: ${second
        .filter((e) => e.member === "m3")
        .map((e) => e.type)
        .join(", ")}`,
    );

    polling = false;
    await poller;
    t.log(`${polls.length} polls of dig, ${digErrors.length} failed`);
    t.true(polls.length > 0);
    const withDead = polls.filter((p) => p.includes("127.0.0.13"));
    t.is(withDead.length, 0, `${withDead.length} of ${polls.length} polls listed the dead server 127.0.0.13`);
    t.deepEqual(await dig(named, "www.example.test", "A"), ["127.0.0.11", "127.0.0.12"]);
    const m3 = (await api.members()).members.find((m) => m.name === "m3")!;
    t.is(m3.status, "up");
    t.is(m3.checks.web, "failing");
  },
);
