/**
 * The deployment kit (deploy/): every example and compose config loads through the real
 * config loader, the systemd units say what deploy/README.md promises (and pass
 * `systemd-analyze verify` where it is installed), the compose file's services point at
 * configs that exist and validate, and deploy/tls-bootstrap.sh makes certificates a real
 * three-elector cluster accepts, while one from another CA is refused.
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import type { PeerCertificate } from "node:tls";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { parse, parseDocument } from "yaml";
import { generateKey } from "../../src/auth/auth-keys.ts";
import { identityFromCertificate } from "../../src/auth/cert-identity.ts";
import { loadConfig } from "../../src/config/load-config.ts";
import type { Config } from "../../src/config/node-config.ts";
import { ELECTOR_V8_FLAGS, MEMBER_V8_FLAGS } from "../../src/dev/node-v8-flags.ts";
import { parseSettings } from "../../handlers/src/dns-rfc2136-settings.ts";
import { opensslAvailable } from "../fixtures/make-test-certs.ts";
import { ProcessCluster } from "../support/process-cluster.ts";
import { conclaveArgv } from "../support/conclave-entry.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const DEPLOY = join(ROOT, "deploy");
const SCRIPT = join(DEPLOY, "tls-bootstrap.sh");

const scratch = mkdtempSync(join(tmpdir(), "conclave-deploy-"));
test.after.always(() => rmSync(scratch, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// Configs

/**
 * Load a deploy/ config through {@link loadConfig}, changed only where it names files that
 * exist on a real node (the token, the auth keys, the TLS files): those are pointed at
 * stand-ins in a temp dir, since the loader reads the token and keys and checks the TLS files
 * exist.
 */
function loadDeployConfig(file: string): Config {
  const dir = mkdtempSync(join(scratch, "cfg-"));
  const doc = parseDocument(readFileSync(file, "utf8"));
  const token = join(dir, "token");
  writeFileSync(token, "deploy-test-token-0123456789abcdef\n", { mode: 0o600 });
  if (doc.hasIn(["cluster", "token_file"])) doc.setIn(["cluster", "token_file"], token);
  for (const key of ["peer_key_file", "members_key_file", "operators_key_file"]) {
    if (doc.hasIn(["cluster", "auth", key])) {
      const stand = join(dir, `${key}.key`);
      writeFileSync(stand, `${generateKey()}\n`, { mode: 0o600 });
      doc.setIn(["cluster", "auth", key], stand);
    }
  }
  for (const key of ["ca", "cert", "key"]) {
    if (doc.hasIn(["cluster", "tls", key])) {
      const stand = join(dir, `${key}.pem`);
      writeFileSync(stand, "not a real PEM: the loader only checks that the file is readable\n");
      doc.setIn(["cluster", "tls", key], stand);
    }
  }
  const copy = join(dir, basename(file));
  writeFileSync(copy, doc.toString());
  return loadConfig(copy);
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => join(dir, f));
}

const EXAMPLE_DIRS = ["examples/website-3", "examples/electors-3-members-n", "compose"];

test("every config under deploy/examples and deploy/compose validates with the config loader", (t) => {
  const files = EXAMPLE_DIRS.flatMap((d) => yamlFiles(join(DEPLOY, d)));
  t.true(files.length >= 10, `found ${files.length} configs`);
  for (const file of files) {
    const name = relative(ROOT, file);
    try {
      const config = loadDeployConfig(file);
      t.is(config.name, basename(file, ".yaml") === "member" ? "app1" : basename(file, ".yaml"), name);
    } catch (e) {
      t.fail(`${name}: ${(e as Error).message}`);
    }
  }
});

/** The parts that must be the same on every elector of one cluster. */
function clusterShape(c: Config): unknown {
  return { electors: c.cluster.electors, tls: c.cluster.tls !== null, handlers: c.handlers };
}

test("website-3: three servers, each elector and member, with the same electors and dns handler", (t) => {
  const dir = join(DEPLOY, "examples/website-3");
  const configs = ["web1", "web2", "web3"].map((n) => loadDeployConfig(join(dir, `${n}.yaml`)));
  for (const c of configs) {
    t.deepEqual(c.roles, { elector: true, member: true }, c.name);
    t.deepEqual(Object.keys(c.cluster.electors), ["web1", "web2", "web3"]);
    t.is(c.cluster.electors[c.name], c.advertise, `${c.name} advertises its elector address`);
    t.is(c.dataDir, "/var/lib/conclave");
    t.is(c.servicesDir, "/etc/conclave/services");
    t.false(c.cluster.credentials.legacy, `${c.name} uses role credentials, not the shared token`);
    t.deepEqual(clusterShape(c), clusterShape(configs[0]!));
    const dns = c.handlers.find((h) => h.name === "dns");
    t.truthy(dns, "a dns handler");
    t.is(dns!.run.kind, "argv");
    if (dns!.run.kind === "argv") t.is(dns!.run.argv[0], "/opt/conclave/handlers/dns-rfc2136");
    t.true(dns!.on.includes("member-down") && dns!.on.includes("member-up"));
    const nginx = c.checks.find((k) => k.name === "nginx");
    t.is(nginx?.type, "http");
  }
  t.is(new Set(configs.map((c) => c.advertise)).size, 3);
});

test("electors-3-members-n: three elector-only configs and a member-only template", (t) => {
  const dir = join(DEPLOY, "examples/electors-3-members-n");
  const electors = ["e1", "e2", "e3"].map((n) => loadDeployConfig(join(dir, `${n}.yaml`)));
  for (const c of electors) {
    t.deepEqual(c.roles, { elector: true, member: false }, c.name);
    t.false(c.cluster.credentials.legacy, `${c.name} uses role credentials, not the shared token`);
    t.is(c.cluster.electors[c.name], c.advertise);
    t.deepEqual(clusterShape(c), clusterShape(electors[0]!));
    t.true(c.handlers.length > 0, "handlers on every elector");
  }
  const member = loadDeployConfig(join(dir, "member.yaml"));
  t.deepEqual(member.roles, { elector: false, member: true });
  t.is(member.dataDir, null);
  t.deepEqual(member.cluster.electors, electors[0]!.cluster.electors);
  t.false(Object.values(member.cluster.electors).includes(member.advertise));
  t.true(member.checks.length > 0);
});

test("the examples' dns handler flags are accepted by dns-rfc2136, and --check names a member check", (t) => {
  const clusters = [
    { electors: ["website-3/web1", "website-3/web2", "website-3/web3"], members: ["website-3/web1"] },
    {
      electors: ["electors-3-members-n/e1", "electors-3-members-n/e2", "electors-3-members-n/e3"],
      members: ["electors-3-members-n/member"],
    },
  ];
  for (const { electors, members } of clusters) {
    const memberChecks = members.flatMap((m) =>
      loadDeployConfig(join(DEPLOY, "examples", `${m}.yaml`)).checks.map((c) => c.name),
    );
    for (const e of electors) {
      const dns = loadDeployConfig(join(DEPLOY, "examples", `${e}.yaml`)).handlers.find(
        (h) => h.name === "dns",
      )!;
      if (dns.run.kind !== "argv") {
        t.fail(`${e}: the dns handler's run is not an argv`);
        continue;
      }
      const settings = parseSettings(dns.run.argv.slice(1), {});
      t.not(settings, "help");
      if (settings !== "help" && settings.check !== null) {
        t.true(memberChecks.includes(settings.check), `${e}: --check ${settings.check} is a member's check`);
      }
    }
  }
});

// ---------------------------------------------------------------------------------------------
// systemd units

/** `Key=value` lines of a unit file, comments and sections dropped (keys may repeat). */
function unitKeys(file: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (m) keys.set(m[1]!, [...(keys.get(m[1]!) ?? []), m[2]!]);
  }
  return keys;
}

const UNITS = ["conclave.service", "conclave-member.service"];

test("the systemd units run the agent as conclave, sandboxed, restarting on failure, KillMode=mixed", (t) => {
  for (const unit of UNITS) {
    const k = unitKeys(join(DEPLOY, "systemd", unit));
    const one = (key: string) => k.get(key)?.at(-1);
    t.true(
      one("ExecStart")?.endsWith("/opt/conclave/bin/conclave agent --config /etc/conclave/conclave.yaml"),
      unit,
    );
    t.is(one("User"), "conclave");
    t.is(one("Restart"), "on-failure");
    t.truthy(one("RestartSec"));
    t.is(one("RestartPreventExitStatus"), "2", "a bad config is not restarted in a loop");
    t.is(one("KillMode"), "mixed");
    for (const [key, value] of [
      ["NoNewPrivileges", "yes"],
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["PrivateTmp", "yes"],
      ["CapabilityBoundingSet", ""],
      ["AmbientCapabilities", ""],
    ] as const) {
      t.is(one(key), value, `${unit}: ${key}`);
    }
    t.false(k.has("WatchdogSec"), "no watchdog until the agent sends sd_notify keep-alives");
    t.false(k.has("MemoryDenyWriteExecute"), "V8's JIT needs writable executable memory");
  }
  const elector = unitKeys(join(DEPLOY, "systemd/conclave.service"));
  // Each unit starts node with the flags conclave dev and the benchmarks use for its role.
  t.deepEqual(elector.get("ExecStart"), [
    `/usr/bin/env node ${ELECTOR_V8_FLAGS.join(" ")} /opt/conclave/bin/conclave agent --config /etc/conclave/conclave.yaml`,
  ]);
  t.deepEqual(elector.get("StateDirectory"), ["conclave"]);
  t.true(elector.get("ReadWritePaths")?.some((p) => p.replace(/^-/, "") === "/var/lib/conclave"));
  const member = unitKeys(join(DEPLOY, "systemd/conclave-member.service"));
  t.deepEqual(member.get("ExecStart"), [
    `/usr/bin/env node ${MEMBER_V8_FLAGS.join(" ")} /opt/conclave/bin/conclave agent --config /etc/conclave/conclave.yaml`,
  ]);
  t.truthy(member.get("MemoryMax")?.[0]);
  const netAdmin = unitKeys(join(DEPLOY, "systemd/drop-ins/net-admin.conf"));
  t.deepEqual(netAdmin.get("AmbientCapabilities"), ["CAP_NET_ADMIN CAP_NET_RAW"]);
  t.deepEqual(netAdmin.get("CapabilityBoundingSet"), ["CAP_NET_ADMIN CAP_NET_RAW"]);
});

function canVerifyUnits(): boolean {
  try {
    execFileSync("systemd-analyze", ["--version"], { stdio: "ignore" });
  } catch {
    return false;
  }
  return (
    existsSync("/lib/systemd/system/sysinit.target") || existsSync("/usr/lib/systemd/system/sysinit.target")
  );
}

const verifyTest = canVerifyUnits() ? test : test.skip;
if (!canVerifyUnits())
  console.log("skipping systemd-analyze verify of deploy/systemd: systemd is not installed");

verifyTest(
  "systemd-analyze verify accepts both units, each as conclave.service with the net-admin drop-in",
  (t) => {
    const systemDir = existsSync("/usr/lib/systemd/system/sysinit.target")
      ? "/usr/lib/systemd/system"
      : "/lib/systemd/system";
    for (const unit of UNITS) {
      // An offline root holding the system's units, the unit installed as the README says
      // (as conclave.service), the drop-in, and a stand-in for /opt/conclave/bin/conclave
      // and for /usr/bin/env, which the member unit runs node through (verify checks that
      // ExecStart is executable).
      const root = mkdtempSync(join(scratch, "root-"));
      cpSync(systemDir, join(root, "usr/lib/systemd/system"), { recursive: true });
      const etc = join(root, "etc/systemd/system");
      mkdirSync(join(etc, "conclave.service.d"), { recursive: true });
      copyFileSync(join(DEPLOY, "systemd", unit), join(etc, "conclave.service"));
      copyFileSync(
        join(DEPLOY, "systemd/drop-ins/net-admin.conf"),
        join(etc, "conclave.service.d/net-admin.conf"),
      );
      mkdirSync(join(root, "opt/conclave/bin"), { recursive: true });
      writeFileSync(join(root, "opt/conclave/bin/conclave"), "#!/bin/sh\n", { mode: 0o755 });
      mkdirSync(join(root, "usr/bin"), { recursive: true });
      writeFileSync(join(root, "usr/bin/env"), "#!/bin/sh\n", { mode: 0o755 });
      // verify exits 0 on an unknown key or a bad value ("ignoring"): any output fails.
      const r = spawnSync("systemd-analyze", ["verify", "--man=no", `--root=${root}`, "conclave.service"], {
        encoding: "utf8",
        env: { ...process.env, SYSTEMD_LOG_LEVEL: "notice" },
      });
      t.is(r.status, 0, `${unit}: ${r.stderr}`);
      t.is(`${r.stdout}${r.stderr}`.trim(), "", `${unit}: systemd-analyze verify printed something`);
    }
  },
);

// ---------------------------------------------------------------------------------------------
// Compose

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  volumes?: string[];
  depends_on?: Record<string, { condition: string }>;
}

test("compose.yaml: three nodes running bin/conclave agent on configs that exist and validate", (t) => {
  const compose = parse(readFileSync(join(DEPLOY, "compose.yaml"), "utf8"), { merge: true }) as {
    services: Record<string, ComposeService>;
    volumes: Record<string, unknown>;
  };
  const nodes = ["node1", "node2", "node3"];
  for (const n of nodes) {
    const s = compose.services[n];
    t.truthy(s, n);
    t.deepEqual(s!.command, ["agent", "--config", `/etc/conclave/${n}.yaml`]);
    t.true(s!.volumes!.includes("./compose:/etc/conclave:ro"));
    t.true(s!.volumes!.includes("token:/run/conclave:ro"), "the shared token volume");
    t.is(s!.depends_on?.token?.condition, "service_completed_successfully");
    // build: context and Dockerfile relative to deploy/.
    const context = join(DEPLOY, s!.build!.context);
    t.is(context, ROOT.replace(/\/$/, ""));
    t.true(existsSync(join(context, s!.build!.dockerfile)));

    const config = loadDeployConfig(join(DEPLOY, "compose", `${n}.yaml`));
    t.is(config.name, n);
    t.deepEqual(Object.keys(config.cluster.electors), nodes, "electors are the compose services");
    t.is(config.cluster.electors[n], `${n}:7400`);
    t.true(config.roles.elector);
    // The token file the configs name is where the token volume is mounted.
    const original = parse(readFileSync(join(DEPLOY, "compose", `${n}.yaml`), "utf8"));
    t.is(dirname(original.cluster.token_file), "/run/conclave");
  }
  t.true("token" in compose.volumes);
  t.true(compose.services.token!.volumes!.includes("token:/run/conclave"));
  // The Dockerfile entrypoint is bin/conclave, so `command` is the agent's arguments.
  const dockerfile = readFileSync(join(DEPLOY, "Dockerfile"), "utf8");
  t.regex(dockerfile, /^FROM node:20-bookworm-slim/m);
  t.regex(dockerfile, /^ENTRYPOINT \["\/opt\/conclave\/bin\/conclave"\]/m);
  for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
    for (const src of m[1]!.split(/\s+/)) t.true(existsSync(join(ROOT, src)), `Dockerfile copies ${src}`);
  }
});

// ---------------------------------------------------------------------------------------------
// tls-bootstrap.sh

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd: ROOT, env: { ...process.env, ...env }, timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const bootstrap = (...args: string[]) => run(SCRIPT, args);
const conclave = (args: string[]) => run(process.execPath, conclaveArgv(args));

const haveOpenssl = opensslAvailable();
if (!haveOpenssl) console.log("skipping the tls-bootstrap.sh tests: openssl is not installed");
const sslTest = haveOpenssl ? test : test.skip;

test("tls-bootstrap.sh: bad usage exits 2 with the usage hint", async (t) => {
  for (const args of [
    [],
    [join(scratch, "u")],
    ["--bogus", join(scratch, "u"), "e1"],
    ["--days", "x", join(scratch, "u"), "e1"],
  ]) {
    const r = await bootstrap(...args);
    t.is(r.code, 2, args.join(" "));
    t.regex(r.stderr, /--help/);
  }
  const twice = await bootstrap(join(scratch, "u"), "e1", "e1=127.0.0.1");
  t.is(twice.code, 2);
  t.regex(twice.stderr, /given twice/);
  const help = await bootstrap("--help");
  t.is(help.code, 0);
  t.regex(help.stdout, /^Usage: tls-bootstrap\.sh/);
  t.false(existsSync(join(scratch, "u")), "nothing written on bad usage");
});

sslTest("tls-bootstrap.sh: files, SANs, modes; refuses to replace a CA without --force", async (t) => {
  const out = join(scratch, "pki-files");
  const r = await bootstrap(out, "a=127.0.0.1", "b:10.0.0.2", "c=10.0.0.3,c.example.com", "d");
  t.is(r.code, 0, r.stderr);
  t.deepEqual(readdirSync(out).sort(), [
    "a-key.pem",
    "a.pem",
    "b-key.pem",
    "b.pem",
    "c-key.pem",
    "c.pem",
    "ca-key.pem",
    "ca.pem",
    "d-key.pem",
    "d.pem",
  ]);
  for (const f of readdirSync(out)) {
    const mode = statSync(join(out, f)).mode & 0o777;
    t.is(mode, f.endsWith("-key.pem") ? 0o600 : 0o644, f);
  }
  const text = (name: string) =>
    execFileSync("openssl", ["x509", "-in", join(out, `${name}.pem`), "-noout", "-text"]).toString();
  t.regex(text("a"), /DNS:a, IP Address:127\.0\.0\.1/);
  t.regex(text("b"), /DNS:b, IP Address:10\.0\.0\.2/);
  t.regex(text("c"), /DNS:c, IP Address:10\.0\.0\.3, DNS:c\.example\.com/);
  t.regex(text("d"), /DNS:d\b/);
  t.regex(text("a"), /TLS Web Server Authentication, TLS Web Client Authentication/);
  t.regex(text("ca"), /CA:TRUE/);
  execFileSync("openssl", ["verify", "-CAfile", join(out, "ca.pem"), join(out, "a.pem")]);

  const caBefore = readFileSync(join(out, "ca.pem"), "utf8");
  const again = await bootstrap(out, "e");
  t.is(again.code, 1);
  t.regex(again.stderr, /refusing to replace/);
  t.false(existsSync(join(out, "e.pem")));
  t.is(readFileSync(join(out, "ca.pem"), "utf8"), caBefore);

  const add = await bootstrap("--add", out, "e=127.0.0.1");
  t.is(add.code, 0, add.stderr);
  t.is(readFileSync(join(out, "ca.pem"), "utf8"), caBefore, "--add keeps the CA");
  execFileSync("openssl", ["verify", "-CAfile", join(out, "ca.pem"), join(out, "e.pem")]);
  const addAgain = await bootstrap("--add", out, "e");
  t.is(addAgain.code, 1, "--add does not replace a node's files");

  const forced = await bootstrap("--force", out, "a");
  t.is(forced.code, 0, forced.stderr);
  t.not(readFileSync(join(out, "ca.pem"), "utf8"), caBefore);
  t.regex(forced.stderr, /b\.pem was signed by the old CA/);
});

test("tls-bootstrap.sh: a bad ROLES/ prefix is bad usage (exit 2), nothing written", async (t) => {
  const out = join(scratch, "u-roles");
  const unknown = await bootstrap(out, "admin/e1=127.0.0.1");
  t.is(unknown.code, 2);
  t.regex(
    unknown.stderr,
    /'admin' in 'admin\/e1=127\.0\.0\.1' is not a role \(elector, member, operator, reader\)/,
  );
  const empty = await bootstrap(out, "/e1");
  t.is(empty.code, 2);
  t.regex(empty.stderr, /empty roles in '\/e1'/);
  const half = await bootstrap(out, "elector,/e1");
  t.is(half.code, 2, "an empty role in the list");
  t.regex(half.stderr, /empty role in 'elector,\/e1'/);
  t.false(existsSync(out), "nothing written on bad usage");
});

sslTest(
  "tls-bootstrap.sh: ROLES/ names the roles in conclave:// URI SANs, read back as the identity; operator and reader certificates are client-only",
  async (t) => {
    const out = join(scratch, "pki-roles");
    const r = await bootstrap(
      out,
      "elector,member/web1=127.0.0.1",
      "member/app1",
      "operator/alice",
      "reader/grafana",
      "plain",
    );
    t.is(r.code, 0, r.stderr);
    const pem = (name: string) => readFileSync(join(out, `${name}.pem`), "utf8");
    const text = (name: string) =>
      execFileSync("openssl", ["x509", "-in", join(out, `${name}.pem`), "-noout", "-text"]).toString();
    t.regex(
      text("web1"),
      /DNS:web1, IP Address:127\.0\.0\.1, URI:conclave:\/\/elector\/web1, URI:conclave:\/\/member\/web1/,
    );
    t.regex(text("web1"), /TLS Web Server Authentication, TLS Web Client Authentication/);
    t.regex(text("app1"), /DNS:app1, URI:conclave:\/\/member\/app1/);
    t.regex(text("app1"), /TLS Web Server Authentication, TLS Web Client Authentication/);
    for (const client of ["alice", "grafana"]) {
      t.regex(text(client), /Extended Key Usage: *\n *TLS Web Client Authentication\n/, client);
      t.notRegex(text(client), /TLS Web Server Authentication/, client);
    }
    t.notRegex(text("plain"), /URI:/, "no prefix: no Conclave SAN (the token names the caller)");
    // What the script writes is what an elector reads (src/auth/cert-identity.ts).
    const identity = (name: string) =>
      identityFromCertificate({
        subjectaltname: new X509Certificate(pem(name)).subjectAltName,
      } as PeerCertificate);
    t.deepEqual(identity("web1"), { name: "web1", roles: ["elector", "member"], shared: false });
    t.deepEqual(identity("app1"), { name: "app1", roles: ["member"], shared: false });
    t.deepEqual(identity("alice"), { name: "alice", roles: ["operator"], shared: false });
    t.deepEqual(identity("grafana"), { name: "grafana", roles: ["reader"], shared: false });
    t.is(identity("plain"), null);
    for (const n of ["web1", "app1", "alice", "grafana"]) {
      execFileSync("openssl", ["verify", "-CAfile", join(out, "ca.pem"), join(out, `${n}.pem`)]);
    }
  },
);

(haveOpenssl ? test.serial : test.skip)(
  "tls-bootstrap.sh certificates run a three-elector mutual TLS cluster; another CA's are refused",
  async (t) => {
    const pki = join(scratch, "pki");
    const rogue = join(scratch, "pki-rogue");
    const made = await bootstrap(pki, "e1=127.0.0.1", "e2=127.0.0.1", "e3=127.0.0.1");
    t.is(made.code, 0, made.stderr);
    const other = await bootstrap(rogue, "e1=127.0.0.1");
    t.is(other.code, 0, other.stderr);

    const names = ["e1", "e2", "e3"];
    const nodes = Object.fromEntries(
      names.map((n) => [n, { cert: join(pki, `${n}.pem`), key: join(pki, `${n}-key.pem`) }]),
    );
    const c = await ProcessCluster.create({ names, tls: { ca: join(pki, "ca.pem"), nodes } });
    t.teardown(() => c.destroy());
    c.startAll();
    const leader = await c.waitForLeader(20_000);
    t.true(names.includes(leader));

    const base = ["status", "--json", "--addr", c.nodes.get("e2")!.addr, "--token-file", c.tokenFile];
    const tlsFlags = (dir: string, ca: string) => [
      "--tls-ca",
      join(ca, "ca.pem"),
      "--tls-cert",
      join(dir, "e1.pem"),
      "--tls-key",
      join(dir, "e1-key.pem"),
    ];
    const good = await conclave([...base, ...tlsFlags(pki, pki)]);
    t.is(good.code, 0, good.stderr);
    const status = JSON.parse(good.stdout) as { leader: string; electors: { name: string }[] };
    t.true(names.includes(status.leader));
    t.deepEqual(status.electors.map((e) => e.name).sort(), names);

    // Refused (each call retries until its 5 s deadline, so run them together): a client
    // certificate from another CA, a client that trusts only the other CA, and no TLS at all.
    const [foreignCert, foreignCa, plain] = await Promise.all([
      conclave([...base, ...tlsFlags(rogue, pki)]),
      conclave([...base, ...tlsFlags(rogue, rogue)]),
      conclave(base),
    ]);
    t.is(foreignCert.code, 1, foreignCert.stdout);
    t.is(foreignCa.code, 1, foreignCa.stdout);
    t.is(plain.code, 1, plain.stdout);
    // The node that refused them still serves the right client.
    const after = await conclave([...base, ...tlsFlags(pki, pki)]);
    t.is(after.code, 0, after.stderr);
  },
);

// Keep the exec bit: the README runs the script directly.
test("tls-bootstrap.sh is executable and strict", (t) => {
  t.truthy(statSync(SCRIPT).mode & 0o111);
  t.regex(readFileSync(SCRIPT, "utf8"), /^#!\/usr\/bin\/env bash\n[\s\S]*^set -euo pipefail$/m);
});
