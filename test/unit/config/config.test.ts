/**
 * The config loader (src/config/: load-config.ts with its schema and rules, check-schema.ts,
 * host-port.ts) and duration parsing (src/config/duration.ts) against the "Config
 * (conclave.yaml)" reference, docs/config.md: the full example loads with its values and defaults,
 * and every kind of mistake is reported as one line naming the file and the key.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { parseChecks } from "../../../src/config/check-schema.ts";
import { ConfigError } from "../../../src/config/config-error.ts";
import { splitHostPort } from "../../../src/config/host-port.ts";
import { loadConfig, validateConfig } from "../../../src/config/load-config.ts";
import {
  CHECK_KEYS,
  type CheckConfig,
  CONFIG_KEYS,
  DEFAULT_TIMING,
} from "../../../src/config/node-config.ts";
import {
  DurationError,
  formatDuration,
  MAX_DURATION_MS,
  parseDuration,
} from "../../../src/config/duration.ts";

const TOKEN = "s3cret-token-0123456789abcdef";

/** The full example config of the reference (docs/config.md), except for token_file (relative to the config file). */
const FULL_EXAMPLE = `name: web1                          # unique node name
roles: [elector, member]
listen: 0.0.0.0:7400                # gRPC: raft peers, member reports, control API
advertise: 10.0.0.1:7400            # how others reach this node
http: 127.0.0.1:7480                # status page, /metrics, /healthz (optional)
data_dir: /var/lib/conclave
cluster:
  electors:                         # bootstrap voter set; later changes go through \`conclave electors\`
    web1: 10.0.0.1:7400
    web2: 10.0.0.2:7400
    web3: 10.0.0.3:7400
  token_file: token                 # shared secret every node and CLI call presents
  tls: { ca: ca.pem, cert: node.pem, key: node-key.pem }   # optional mTLS
timing:                             # defaults shown
  heartbeat: 250ms                  # member report interval
  member_timeout: 1500ms            # no report for this long => member-down
  raft_heartbeat: 100ms
  election_timeout: 1000ms
  master_lease: 3s                  # a master that loses the quorum this long demotes itself
handlers:                           # needed on every elector (any may lead); \`conclave status\` warns when electors differ
  - name: dns
    on: [member-down, member-up, member-joined, member-left]
    run: /etc/conclave/handlers/dns-rfc2136      # argv or a path
    timeout: 30s
    retries: 3
checks:                             # local checks this member runs
  - name: nginx
    type: http                      # file_exists | file_contains | process_running | http | tcp | command
    url: http://127.0.0.1/health
    expect: "OK"                    # body must contain
    interval: 2s
    fall: 2                         # consecutive failures before failing
    rise: 2                         # consecutive passes before passing
    action: systemctl restart nginx # optional local remedy
services_dir: /etc/conclave/services
`;

/** A small valid config; tests break one thing in it. */
const MINIMAL = `name: web1
roles: [elector, member]
listen: 10.0.0.1:7400
data_dir: data
cluster:
  electors:
    web1: 10.0.0.1:7400
    web2: 10.0.0.2:7400
    web3: 10.0.0.3:7400
  token_file: token
`;

/** A temp dir holding a token and TLS files, removed after the test. */
function workdir(t: ExecutionContext, files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-config-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const all = {
    token: `${TOKEN}\n`,
    "ca.pem": "ca\n",
    "node.pem": "cert\n",
    "node-key.pem": "key\n",
    ...files,
  };
  // 0600: a token file group or others may read is refused (rpc/cluster-token.ts).
  for (const [name, text] of Object.entries(all)) writeFileSync(join(dir, name), text, { mode: 0o600 });
  return dir;
}

/** Write `yaml` as conclave.yaml in a fresh workdir; return its path. */
function configFile(t: ExecutionContext, yaml: string, files: Record<string, string> = {}): string {
  const file = join(workdir(t, files), "conclave.yaml");
  writeFileSync(file, yaml);
  return file;
}

/** Load `yaml`, expect a ConfigError, check it is one line naming the file; return it. */
function loadError(t: ExecutionContext, yaml: string, files: Record<string, string> = {}): ConfigError {
  const file = configFile(t, yaml, files);
  const err = t.throws(() => loadConfig(file), { instanceOf: ConfigError })!;
  t.true(err.message.startsWith(`${file}: `), err.message);
  t.false(/[\r\n]/.test(err.message), `one line: ${err.message}`);
  return err;
}

/** Expect the error to name `key`: in the message right after the file, and as `err.key`. */
function assertKey(t: ExecutionContext, err: ConfigError, key: string, problem?: RegExp): void {
  t.is(err.key, key, err.message);
  t.true(err.message.includes(`: ${key}: `), err.message);
  if (problem) t.regex(err.problem, problem);
}

// --- The full example ---------------------------------------------------------------------------

test("the full example config loads with its values, resolved paths and defaults", (t) => {
  const file = configFile(t, FULL_EXAMPLE);
  const dir = join(file, "..");
  const c = loadConfig(file);
  t.is(c.file, file);
  t.is(c.name, "web1");
  t.deepEqual(c.roles, { elector: true, member: true });
  t.is(c.listen, "0.0.0.0:7400");
  t.is(c.advertise, "10.0.0.1:7400");
  t.is(c.http, "127.0.0.1:7480");
  t.is(c.dataDir, "/var/lib/conclave");
  t.deepEqual(c.cluster.electors, { web1: "10.0.0.1:7400", web2: "10.0.0.2:7400", web3: "10.0.0.3:7400" });
  t.false(c.cluster.join);
  t.is(c.cluster.tokenFile, join(dir, "token"));
  t.is(c.cluster.token, TOKEN, "read and trimmed");
  t.deepEqual(c.cluster.tls, {
    ca: join(dir, "ca.pem"),
    cert: join(dir, "node.pem"),
    key: join(dir, "node-key.pem"),
  });
  t.deepEqual(c.timing, {
    heartbeatMs: 250,
    memberTimeoutMs: 1500,
    raftHeartbeatMs: 100,
    electionTimeoutMs: 1000,
    masterLeaseMs: 3000,
  });
  t.deepEqual(c.handlers, [
    {
      name: "dns",
      on: ["member-down", "member-up", "member-joined", "member-left"],
      run: { kind: "shell", command: "/etc/conclave/handlers/dns-rfc2136" },
      timeoutMs: 30_000,
      retries: 3,
      concurrency: 1, // default
      mode: "each", // default
    },
  ]);
  t.deepEqual(c.checks, [
    {
      name: "nginx",
      type: "http",
      url: "http://127.0.0.1/health",
      expect: "OK",
      status: 200, // default
      intervalMs: 2000,
      timeoutMs: 2000, // default
      fall: 2,
      rise: 2,
      action: { kind: "shell", command: "systemctl restart nginx" },
    },
  ]);
  t.is(c.servicesDir, "/etc/conclave/services");
});

test("defaults: timing, advertise = listen, optional sections empty, relative data_dir resolved", (t) => {
  const file = configFile(t, MINIMAL);
  const c = loadConfig(file);
  t.deepEqual(c.timing, DEFAULT_TIMING);
  t.deepEqual(c.timing, {
    heartbeatMs: 250,
    memberTimeoutMs: 1500,
    raftHeartbeatMs: 100,
    electionTimeoutMs: 1000,
    masterLeaseMs: 3000,
  });
  t.is(c.advertise, "10.0.0.1:7400");
  t.is(c.http, null);
  t.is(c.cluster.tls, null);
  t.deepEqual(c.handlers, []);
  t.deepEqual(c.checks, []);
  t.is(c.servicesDir, null);
  t.is(c.dataDir, join(file, "..", "data"));
});

test("handler and check defaults; run as argv; a blank timing section means defaults", (t) => {
  const c = loadConfig(
    configFile(
      t,
      `${MINIMAL}timing:
handlers:
  - name: vip
    on: [master-promoted]
    run: [/usr/bin/vip, --up, ""]
checks:
  - name: pid
    type: process_running
    cmdline: nginx
`,
    ),
  );
  t.deepEqual(c.timing, DEFAULT_TIMING);
  t.deepEqual(c.handlers[0], {
    name: "vip",
    on: ["master-promoted"],
    run: { kind: "argv", argv: ["/usr/bin/vip", "--up", ""] },
    timeoutMs: 30_000,
    retries: 3,
    concurrency: 1,
    mode: "each",
  });
  t.deepEqual(c.checks[0], {
    name: "pid",
    type: "process_running",
    path: null,
    cmdline: "nginx",
    intervalMs: 2000,
    timeoutMs: 2000,
    fall: 2,
    rise: 2,
    action: null,
  });
});

test("a JSON config loads too (YAML is a superset)", (t) => {
  const json = JSON.stringify({
    name: "m1",
    roles: ["member"],
    listen: "[fd00::5]:7400",
    cluster: { electors: { e1: "10.0.0.1:7400" }, token_file: "token" },
    timing: { heartbeat: "0.5s", member_timeout: "1m30s" },
  });
  const c = loadConfig(configFile(t, json));
  t.deepEqual(c.roles, { elector: false, member: true });
  t.is(c.dataDir, null, "a member needs no data_dir");
  t.is(c.advertise, "[fd00::5]:7400");
  t.is(c.timing.heartbeatMs, 500);
  t.is(c.timing.memberTimeoutMs, 90_000);
});

test("cluster.join lets a new elector start without being in cluster.electors", (t) => {
  const yaml = MINIMAL.replace("name: web1", "name: web4").replace(
    "  token_file",
    "  join: true\n  token_file",
  );
  const c = loadConfig(configFile(t, yaml));
  t.true(c.cluster.join);
  t.is(c.name, "web4");
});

test("validateConfig works on an in-memory object, resolving paths against the file's directory", (t) => {
  const dir = workdir(t);
  const c = validateConfig(
    {
      name: "web1",
      roles: ["elector"],
      listen: "10.0.0.1:7400",
      data_dir: "/d",
      cluster: { electors: { web1: "10.0.0.1:7400" }, token_file: "token" },
    },
    join(dir, "conclave.yaml"),
  );
  t.is(c.cluster.token, TOKEN);
  t.deepEqual(c.roles, { elector: true, member: false });
  const err = t.throws(() => validateConfig({ name: 5 }, "mem.yaml"), { instanceOf: ConfigError })!;
  t.is(err.message, "mem.yaml: name: must be a string, got 5");
});

// --- Errors ----------------------------------------------------------------------------------

test("a bad duration names its key", (t) => {
  const err = loadError(t, `${MINIMAL}timing:\n  heartbeat: 2h\n`);
  assertKey(t, err, "timing.heartbeat", /unknown unit "h"/);
});

test("a bare number where a duration belongs says to add a unit", (t) => {
  const err = loadError(t, `${MINIMAL}timing:\n  election_timeout: 1000\n`);
  assertKey(t, err, "timing.election_timeout", /add a unit: 1000ms, 1000s or 1000m/);
});

test("a bare-number duration in a handler or check is caught too", (t) => {
  const handler = loadError(
    t,
    `${MINIMAL}handlers:\n  - { name: h, on: [member-up], run: x, timeout: 30 }\n`,
  );
  assertKey(t, handler, "handlers[0].timeout", /add a unit/);
  const check = loadError(t, `${MINIMAL}checks:\n  - { name: c, type: tcp, address: "a:1", interval: 2 }\n`);
  assertKey(t, check, "checks[0].interval", /add a unit/);
});

test("a zero duration is refused", (t) => {
  const err = loadError(t, `${MINIMAL}timing:\n  master_lease: 0s\n`);
  assertKey(t, err, "timing.master_lease", /greater than 0/);
});

test("an unknown key is named, with a suggestion when it looks like a typo", (t) => {
  const top = loadError(t, `${MINIMAL}servcies_dir: /x\n`);
  assertKey(t, top, "servcies_dir", /unknown key \(did you mean services_dir\?\)/);
  const nested = loadError(t, `${MINIMAL}timing:\n  heartbeet: 250ms\n`);
  assertKey(t, nested, "timing.heartbeet", /did you mean heartbeat/);
  const far = loadError(t, `${MINIMAL}  colour: blue\n`);
  assertKey(t, far, "cluster.colour", /unknown key; expected one of electors, join, token_file, tls/);
  const check = loadError(
    t,
    `${MINIMAL}checks:\n  - { name: c, type: tcp, address: "a:1", url: "http://x" }\n`,
  );
  assertKey(t, check, "checks[0].url", /unknown key/);
});

test("a missing name is reported", (t) => {
  const err = loadError(t, MINIMAL.replace("name: web1\n", ""));
  assertKey(t, err, "name", /^is required$/);
});

test("a misspelt key is reported rather than the required key it leaves missing", (t) => {
  const err = loadError(t, MINIMAL.replace("name: web1", "nmae: web1"));
  assertKey(t, err, "nmae", /did you mean name\?/);
});

test("a bad or repeated role is reported", (t) => {
  const bad = loadError(t, MINIMAL.replace("[elector, member]", "[elector, manager]"));
  assertKey(t, bad, "roles[1]", /must be one of elector, member, got "manager"/);
  const twice = loadError(t, MINIMAL.replace("[elector, member]", "[member, member]"));
  assertKey(t, twice, "roles[1]", /listed twice/);
  const none = loadError(t, MINIMAL.replace("[elector, member]", "[]"));
  assertKey(t, none, "roles", /must not be empty/);
});

test("a duplicate handler name points at the second one", (t) => {
  const err = loadError(
    t,
    `${MINIMAL}handlers:
  - { name: dns, on: [member-down], run: /bin/true }
  - { name: dns, on: [member-up], run: /bin/true }
`,
  );
  assertKey(t, err, "handlers[1].name", /duplicate handler name "dns" \(also handlers\[0\]\)/);
});

test("mode latest runs one at a time: another concurrency is refused; concurrency and mode are bounded", (t) => {
  const latest = loadError(
    t,
    `${MINIMAL}handlers:
  - { name: dns, on: [member-down], run: /bin/true, mode: latest, concurrency: 2 }
`,
  );
  assertKey(t, latest, "handlers[0].concurrency", /must be 1 with mode: latest/);
  const mode = loadError(
    t,
    `${MINIMAL}handlers:\n  - { name: dns, on: [member-down], run: /bin/true, mode: newest }\n`,
  );
  assertKey(t, mode, "handlers[0].mode", /each, latest/);
  const many = loadError(
    t,
    `${MINIMAL}handlers:\n  - { name: dns, on: [member-down], run: /bin/true, concurrency: 65 }\n`,
  );
  assertKey(t, many, "handlers[0].concurrency");
  const c = loadConfig(
    configFile(
      t,
      `${MINIMAL}handlers:\n  - { name: dns, on: [member-down], run: /bin/true, mode: latest }\n`,
    ),
  );
  t.like(c.handlers[0], { mode: "latest", concurrency: 1 });
});

test("an unknown event type names the handler and the position in on", (t) => {
  const err = loadError(
    t,
    `${MINIMAL}handlers:
  - { name: dns, on: [member-down], run: /bin/true }
  - { name: mail, on: [member-crashed], run: /bin/true }
`,
  );
  assertKey(t, err, "handlers[1].on[0]", /must be one of leader-elected, .*got "member-crashed"/);
});

test("a missing token file is an error naming cluster.token_file", (t) => {
  const err = loadError(t, MINIMAL.replace("token_file: token", "token_file: nope/token"));
  assertKey(t, err, "cluster.token_file", /cannot read .*nope\/token: no such file/);
});

test("a short token is refused, and the token itself is not printed", (t) => {
  const err = loadError(t, MINIMAL, { token: "  short-secret \n" });
  assertKey(t, err, "cluster.token_file", /is 12 characters; at least 16 are required/);
  t.false(err.message.includes("short-secret"));
  const empty = loadError(t, MINIMAL, { token: "\n\n" });
  assertKey(t, empty, "cluster.token_file", /is empty/);
});

test("tls needs ca, cert and key together, and the files must exist", (t) => {
  const onlyCert = loadError(t, `${MINIMAL}  tls: { cert: node.pem }\n`);
  assertKey(t, onlyCert, "cluster.tls.ca", /ca, cert and key together/);
  const noKey = loadError(t, `${MINIMAL}  tls: { ca: ca.pem, cert: node.pem }\n`);
  assertKey(t, noKey, "cluster.tls.key", /required/);
  const missing = loadError(t, `${MINIMAL}  tls: { ca: ca.pem, cert: gone.pem, key: node-key.pem }\n`);
  assertKey(t, missing, "cluster.tls.cert", /gone\.pem: no such file/);
});

test("election_timeout below 3 × raft_heartbeat is reported as docs/config.md shows", (t) => {
  const file = configFile(t, `${MINIMAL}timing:\n  raft_heartbeat: 100ms\n  election_timeout: 200ms\n`);
  const err = t.throws(() => loadConfig(file), { instanceOf: ConfigError })!;
  t.is(
    err.message,
    `${file}: timing.election_timeout: must be at least 3 × raft_heartbeat (300ms), got 200ms`,
  );
});

test("a raft_heartbeat too long for the default election_timeout names raft_heartbeat", (t) => {
  const err = loadError(t, `${MINIMAL}timing:\n  raft_heartbeat: 500ms\n`);
  assertKey(t, err, "timing.raft_heartbeat", /at most election_timeout \/ 3/);
});

test("member_timeout must be longer than heartbeat", (t) => {
  const err = loadError(t, `${MINIMAL}timing:\n  heartbeat: 1s\n  member_timeout: 1000ms\n`);
  assertKey(t, err, "timing.member_timeout", /longer than heartbeat \(1s\), got 1s/);
});

test("an elector whose name is not in cluster.electors is an error unless it joins", (t) => {
  const err = loadError(t, MINIMAL.replace("name: web1", "name: web4"));
  assertKey(
    t,
    err,
    "name",
    /"web4" is not one of cluster\.electors \(web1, web2, web3\).*cluster\.join: true/,
  );
  const memberJoin = loadError(
    t,
    MINIMAL.replace("[elector, member]", "[member]").replace("  token_file", "  join: true\n  token_file"),
  );
  assertKey(t, memberJoin, "cluster.join", /only for an elector/);
});

test("a YAML syntax error names the line", (t) => {
  const err = loadError(t, "name: web1\nroles: [elector\nlisten: 10.0.0.1:7400\n");
  t.is(err.key, null);
  t.is(err.line, 3);
  t.regex(err.message, /: line 3, column 1: invalid YAML: /);
  const dup = loadError(t, `${MINIMAL}name: web2\n`);
  t.is(dup.line, 11);
  t.regex(dup.message, /line 11, column 1: invalid YAML: Map keys must be unique/);
});

test("an http check without url names checks[i].url", (t) => {
  const err = loadError(
    t,
    `${MINIMAL}checks:
  - { name: disk, type: file_exists, path: /srv/ok }
  - { name: web, type: http, expect: OK }
`,
  );
  assertKey(t, err, "checks[1].url", /^is required$/);
  const ftp = loadError(t, `${MINIMAL}checks:\n  - { name: web, type: http, url: "ftp://x/" }\n`);
  assertKey(t, ftp, "checks[0].url", /http:\/\/ or https:\/\//);
});

test("a process_running check needs path or cmdline", (t) => {
  const err = loadError(t, `${MINIMAL}checks:\n  - { name: p, type: process_running }\n`);
  assertKey(t, err, "checks[0]", /needs path, cmdline or both/);
});

test("a check with an unknown or missing type lists the types", (t) => {
  const bad = loadError(t, `${MINIMAL}checks:\n  - { name: p, type: htp, url: "http://x" }\n`);
  assertKey(t, bad, "checks[0].type", /file_exists, .*command, got "htp" \(did you mean http\?\)/);
  const none = loadError(t, `${MINIMAL}checks:\n  - { name: p }\n`);
  assertKey(t, none, "checks[0].type", /is required: one of file_exists/);
});

test("listen and advertise: host:port, port range, advertise required on 0.0.0.0", (t) => {
  const port = loadError(t, MINIMAL.replace("listen: 10.0.0.1:7400", "listen: 10.0.0.1:70000"));
  assertKey(t, port, "listen", /from 1 to 65535/);
  const noPort = loadError(t, MINIMAL.replace("listen: 10.0.0.1:7400", "listen: 10.0.0.1"));
  assertKey(t, noPort, "listen", /has no port/);
  const wildcard = loadError(t, MINIMAL.replace("listen: 10.0.0.1:7400", "listen: '[::]:7400'"));
  assertKey(t, wildcard, "advertise", /is required when listen is on all interfaces/);
  const elector = loadError(t, MINIMAL.replace("web2: 10.0.0.2:7400", "web2: 10.0.0.2"));
  assertKey(t, elector, "cluster.electors.web2", /has no port/);
});

test("an elector needs data_dir", (t) => {
  const err = loadError(t, MINIMAL.replace("data_dir: data\n", ""));
  assertKey(t, err, "data_dir", /required on an elector/);
});

test("a wrong type says what was expected", (t) => {
  const err = loadError(t, `${MINIMAL}handlers:\n  - { name: h, on: [member-up], run: x, retries: -1 }\n`);
  assertKey(t, err, "handlers[0].retries", /at least 0, got -1/);
  const list = loadError(t, MINIMAL.replace("[elector, member]", "elector"));
  assertKey(t, list, "roles", /must be a list, got "elector"/);
});

test("with several problems, the one first in the file is reported", (t) => {
  const err = loadError(
    t,
    MINIMAL.replace("[elector, member]", "[elector, boss]").replace("10.0.0.3:7400", "10.0.0.3") +
      "timing:\n  heartbeat: 5\n",
  );
  assertKey(t, err, "roles[1]");
});

test("an unreadable or empty config file is a ConfigError naming the file", (t) => {
  const missing = join(workdir(t), "absent.yaml");
  const err = t.throws(() => loadConfig(missing), { instanceOf: ConfigError })!;
  t.is(err.message, `${missing}: cannot read the file: no such file`);
  const empty = loadError(t, "# nothing here\n");
  t.regex(empty.message, /the file is empty/);
  const list = loadError(t, "- a\n- b\n");
  t.regex(list.message, /must hold a mapping of settings/);
});

// --- Checks on their own -----------------------------------------------------------------------

const CHECKS = [
  { name: "marker", type: "file_exists", path: "/srv/ready" },
  { name: "motd", type: "file_contains", path: "/etc/motd", contains: "ok", rise: 1 },
  { name: "nginx-proc", type: "process_running", path: "/usr/sbin/nginx" },
  { name: "web", type: "http", url: "https://127.0.0.1/health", status: 204, timeout: "500ms" },
  { name: "db", type: "tcp", address: "127.0.0.1:5432", fall: 3, action: ["systemctl", "restart", "pg"] },
  { name: "script", type: "command", run: "/usr/local/bin/check", interval: "1m" },
];

test("parseChecks accepts a list or a mapping with checks:, every type", (t) => {
  const list = parseChecks(CHECKS, "checks.yaml");
  t.deepEqual(parseChecks({ checks: CHECKS }, "checks.yaml"), list);
  t.deepEqual(
    list.map((c) => c.type),
    ["file_exists", "file_contains", "process_running", "http", "tcp", "command"],
  );
  const [marker, motd, proc, web, db, script] = list as [
    CheckConfig,
    CheckConfig,
    CheckConfig,
    CheckConfig,
    CheckConfig,
    CheckConfig,
  ];
  t.like(marker, { path: "/srv/ready", intervalMs: 2000, fall: 2, rise: 2, action: null });
  t.like(motd, { contains: "ok", rise: 1 });
  t.like(proc, { path: "/usr/sbin/nginx", cmdline: null });
  t.like(web, { url: "https://127.0.0.1/health", status: 204, expect: null, timeoutMs: 500 });
  t.deepEqual(db.action, { kind: "argv", argv: ["systemctl", "restart", "pg"] });
  t.like(db, { address: "127.0.0.1:5432", fall: 3 });
  t.like(script, { run: { kind: "shell", command: "/usr/local/bin/check" }, intervalMs: 60_000 });
});

test("parseChecks reports errors with checks[i] (NAME) keys in both forms", (t) => {
  const dup = t.throws(
    () => parseChecks([...CHECKS, { name: "web", type: "tcp", address: "a:1" }], "c.yaml"),
    {
      instanceOf: ConfigError,
    },
  )!;
  t.is(dup.message, 'c.yaml: checks[6] (web).name: duplicate check name "web" (also checks[3])');
  const bare = t.throws(() => parseChecks([{ name: "x", type: "tcp", address: "nope" }], "c.yaml"), {
    instanceOf: ConfigError,
  })!;
  t.is(bare.key, "checks[0] (x).address");
  const wrapped = t.throws(() => parseChecks({ checks: [{ name: "x", type: "command" }] }, "c.yaml"), {
    instanceOf: ConfigError,
  })!;
  t.is(wrapped.key, "checks[0] (x).run");
  const extra = t.throws(() => parseChecks({ checks: [], handlers: [] }, "c.yaml"), {
    instanceOf: ConfigError,
  })!;
  t.is(extra.key, "handlers");
  t.throws(() => parseChecks("nginx", "c.yaml"), {
    instanceOf: ConfigError,
    message: /must hold a list of checks/,
  });
});

test("key maps name the YAML key of each typed field", (t) => {
  t.is(CONFIG_KEYS["timing.electionTimeoutMs"], "timing.election_timeout");
  t.is(CONFIG_KEYS.dataDir, "data_dir");
  t.is(CONFIG_KEYS["cluster.token"], "cluster.token_file");
  t.is(CHECK_KEYS.intervalMs, "interval");
});

// --- Durations and addresses ----------------------------------------------------------------------

test("parseDuration reads ms, s, m, fractions and compounds", (t) => {
  const cases: [string, number][] = [
    ["250ms", 250],
    ["1.5s", 1500],
    ["2m", 120_000],
    ["0.25m", 15_000],
    [".5s", 500],
    ["1m30s", 90_000],
    [" 3 s ", 3000],
    ["0s", 0],
    ["1000ms", 1000],
  ];
  for (const [text, ms] of cases) t.is(parseDuration(text), ms, text);
});

test("parseDuration refuses a bare number, saying to add a unit", (t) => {
  const err = t.throws(() => parseDuration("250"), { instanceOf: DurationError })!;
  t.is(err.message, "bare number 250 is not a duration; add a unit: 250ms, 250s or 250m");
});

test("parseDuration refuses other malformed durations with a clear reason", (t) => {
  const cases: [string, RegExp][] = [
    ["", /empty duration/],
    ["2h", /unknown unit "h"/],
    ["5 sec", /unknown unit "sec"/],
    ["-1s", /negative/],
    ["0.5ms", /whole number of milliseconds/],
    ["abc", /not a duration/],
    ["1s5", /number without a unit/],
    ["40000m", /too long/],
  ];
  for (const [text, reason] of cases) {
    t.throws(() => parseDuration(text), { instanceOf: DurationError, message: reason }, text);
  }
  t.is(parseDuration(`${MAX_DURATION_MS}ms`), MAX_DURATION_MS);
});

test("formatDuration writes what parseDuration reads back", (t) => {
  t.is(formatDuration(300), "300ms");
  t.is(formatDuration(1500), "1500ms");
  t.is(formatDuration(3000), "3s");
  t.is(formatDuration(120_000), "2m");
  for (const ms of [0, 1, 250, 1500, 3000, 90_000, 120_000]) t.is(parseDuration(formatDuration(ms)), ms);
});

test("splitHostPort handles names, IPv4 and bracketed IPv6", (t) => {
  t.deepEqual(splitHostPort("10.0.0.1:7400"), { host: "10.0.0.1", port: 7400 });
  t.deepEqual(splitHostPort("web1.internal:80"), { host: "web1.internal", port: 80 });
  t.deepEqual(splitHostPort("[fd00::1]:7400"), { host: "fd00::1", port: 7400 });
  t.throws(() => splitHostPort("fd00::1:7400"), { message: /in brackets/ });
  t.throws(() => splitHostPort("10.0.0.1:0"), { message: /from 1 to 65535/ });
  t.throws(() => splitHostPort("300.1.1.1:80"), { message: /not a valid host/ });
  t.throws(() => splitHostPort(":80"), { message: /has no host/ });
});
