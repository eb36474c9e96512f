/**
 * The README's "Run it on your servers", executed: web1..web3 (10.0.0.1-3) and a DNS server
 * (10.0.0.53) as network namespaces on one bridge, the README's own marked shell blocks run
 * on them (test/support/readme-blocks.ts: the markers, the path substitution, the stand-ins
 * for scp, systemctl and rndc), the agent started as the installed unit's `ExecStart=` says
 * (as its `User=`/`Group=`, with its `Environment=`, `UMask=` and `StateDirectory=`: systemd
 * itself cannot run here; `systemd-analyze verify` of the unit is in test/package/deploy.test.ts),
 * then step 5 line by line: status, members, /healthz, dig shows the three servers, a stopped
 * nginx drops its server, `conclave drain` drops another.
 *
 * What the test stands in for, as the servers' own packages would leave them: /opt/conclave is
 * a fresh build of this checkout (`npm ci`'s build step); on web1..web3 nginx serves
 * /var/www/html on port 80 (Debian's default site); on the DNS server named runs with rndc set
 * up and an empty named.conf.local (Debian's bind9 package). The README's `useradd` creates a
 * real `conclave` user on this machine; it is removed again if the test created it.
 *
 * Needs root, network namespaces, named, nginx, dig, curl, openssl, setpriv and unshare;
 * skipped with the reason otherwise. The first test (the blocks parse, and every path in them
 * is one the substitution moves) runs everywhere.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import test, { type ExecutionContext } from "ava";
import { until } from "../support/cluster-wait.ts";
import { netnsUnavailable } from "../support/netns-lab.ts";
import {
  blockPrelude,
  checkLines,
  deployBlocks,
  execStartArgv,
  hostRoot,
  type Layout,
  substitutePaths,
  unitServiceKeys,
  unmovedPaths,
} from "../support/readme-blocks.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const README = readFileSync(join(ROOT, "README.md"), "utf8");
const WEB = ["web1", "web2", "web3"] as const;
const ADDRESS: Record<string, string> = {
  web1: "10.0.0.1",
  web2: "10.0.0.2",
  web3: "10.0.0.3",
  dns: "10.0.0.53",
};
/** systemd's default PATH for services. */
const SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

function findTool(name: string): string | null {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), ...SYSTEMD_PATH.split(":")];
  for (const d of dirs) if (d && existsSync(join(d, name))) return join(d, name);
  return null;
}

function hasUser(name: string): boolean {
  return spawnSync("id", ["-u", name], { stdio: "ignore" }).status === 0;
}

/** Why the whole deployment cannot run here, or null. */
function whyNot(): string | null {
  const netns = netnsUnavailable();
  if (netns !== null) return netns;
  const tools = [
    "named",
    "named-checkconf",
    "named-checkzone",
    "rndc",
    "tsig-keygen",
    "dig",
    "nginx",
    "curl",
    "openssl",
    "setpriv",
    "unshare",
    "useradd",
    "userdel",
    "npm",
  ].filter((x) => findTool(x) === null);
  if (tools.length > 0) {
    return `${tools.join(", ")} not installed (apt-get install bind9 bind9-dnsutils nginx curl openssl util-linux)`;
  }
  if (!hasUser("bind")) return "no user bind (the bind9 package makes it)";
  return null;
}

// ---------------------------------------------------------------------------------------------
// Everywhere: the marked blocks parse, and the substitution covers every path they use.

test("the README's deployment blocks are marked, name their hosts, and use only paths the test moves", (t) => {
  const blocks = deployBlocks(README);
  const steps = blocks.filter((b) => b.kind === "step");
  const checks = blocks.filter((b) => b.kind === "check");
  t.true(steps.length >= 4, `${steps.length} deploy-step blocks`);
  t.is(checks.length, 1, "one deploy-check block (step 5)");
  const hosts = new Set(blocks.flatMap((b) => b.hosts));
  t.deepEqual([...hosts].sort(), ["dns", ...WEB]);
  for (const b of blocks) {
    t.deepEqual(unmovedPaths(b.code), [], `README.md:${b.line}: a path the test would not move`);
  }
  // What the blocks install from the package: the example configs and the unit's ExecStart.
  for (const w of WEB) {
    const yaml = readFileSync(join(ROOT, "deploy/examples/website-3", `${w}.yaml`), "utf8");
    t.deepEqual(unmovedPaths(yaml.replace(/#.*$/gm, "")), [], `${w}.yaml`);
  }
  const execStart = unitServiceKeys(join(ROOT, "deploy/systemd/conclave.service")).get("ExecStart")!;
  t.is(execStart.length, 1);
  t.deepEqual(unmovedPaths(execStart[0]!), []);
  t.is(execStartArgv(execStart[0]!)[0], "/usr/bin/env");
  // The substitution itself, on the README's own kinds of path.
  const layout: Layout = { lab: "/L", pkg: "/P" };
  t.is(
    substitutePaths(
      'scp /etc/conclave/token $h:/etc/conclave/ web2:/etc/conclave/tls/ "/etc/bind/k" /opt/conclave/bin/conclave /etc/conclave2 /dev/urandom http://127.0.0.1/health',
      "web1",
      layout,
    ),
    'scp /L/hosts/web1/etc/conclave/token /L/hosts/$h/etc/conclave/ /L/hosts/web2/etc/conclave/tls/ "/L/hosts/web1/etc/bind/k" /P/bin/conclave /etc/conclave2 /dev/urandom http://127.0.0.1/health',
  );
});

// ---------------------------------------------------------------------------------------------
// As root: the deployment

const why = whyNot();
if (why !== null) console.log(`readme-deploy: the deployment test is skipped: ${why}`);
const maybe = why === null ? test.serial : test.skip;

/** The outcome of one command. */
interface Run {
  code: number;
  out: string;
}

/** Run a program to the end (asynchronously, so agents keep being served). */
function run(
  cmd: string,
  args: readonly string[],
  o: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => p.kill("SIGKILL"), o.timeoutMs ?? 60_000);
    p.on("error", (e) => {
      clearTimeout(timer);
      resolve({ code: 127, out: `${out}${e.message}` });
    });
    p.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), out });
    });
  });
}

/** A long-running process the test started, with the tail of its output. */
interface Daemon {
  readonly name: string;
  readonly proc: ChildProcess;
  output: string;
}

function daemon(name: string, cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Daemon {
  const proc = spawn(cmd, args, { env, stdio: ["pipe", "pipe", "pipe"], cwd: "/" });
  const d: Daemon = { name, proc, output: "" };
  const keep = (b: Buffer) => {
    d.output = (d.output + b.toString()).slice(-20_000);
  };
  proc.stdout!.on("data", keep);
  proc.stderr!.on("data", keep);
  proc.on("error", (e) => keep(Buffer.from(`spawn error: ${e.message}\n`)));
  return d;
}

async function stopDaemon(d: Daemon, signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
  if (d.proc.exitCode !== null || d.proc.signalCode !== null) return;
  const gone = new Promise((r) => d.proc.once("exit", r));
  d.proc.kill(signal);
  const timer = setTimeout(() => d.proc.kill("SIGKILL"), 10_000);
  await gone;
  clearTimeout(timer);
}

const alive = (d: Daemon) => d.proc.exitCode === null && d.proc.signalCode === null;

/** The namespaces: one per host, each with eth0 on a bridge in a namespace of its own. */
class Lab {
  readonly tag = randomBytes(2).toString("hex");
  readonly ns: Record<string, string> = {};
  private readonly sw = `rdsw${this.tag}`;
  private readonly made: string[] = [];

  constructor(hosts: readonly string[]) {
    const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
    try {
      ip("netns", "add", this.sw);
      this.made.push(this.sw);
      ip("-n", this.sw, "link", "add", "br0", "type", "bridge");
      ip("-n", this.sw, "link", "set", "br0", "up");
      for (const h of hosts) {
        const ns = `rd${this.tag}${h}`;
        ip("netns", "add", ns);
        this.made.push(ns);
        this.ns[h] = ns;
        ip("-n", this.sw, "link", "add", h, "type", "veth", "peer", "name", "eth0", "netns", ns);
        ip("-n", this.sw, "link", "set", h, "master", "br0");
        ip("-n", this.sw, "link", "set", h, "up");
        ip("-n", ns, "addr", "add", `${ADDRESS[h]}/24`, "dev", "eth0");
        ip("-n", ns, "link", "set", "eth0", "up");
        ip("-n", ns, "link", "set", "lo", "up");
      }
    } catch (e) {
      this.destroy();
      throw e;
    }
  }

  /** SIGKILL whatever still runs in the namespaces (all of it started by this test), then delete them. */
  destroy(): void {
    for (const ns of this.made) {
      const pids = spawnSync("ip", ["netns", "pids", ns], { encoding: "utf8" }).stdout ?? "";
      for (const pid of pids.split(/\s+/).filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    for (const ns of this.made.splice(0).reverse()) spawnSync("ip", ["netns", "del", ns]);
  }
}

function idOf(user: string, flag: "-u" | "-g"): number {
  return Number(execFileSync("id", [flag, user], { encoding: "utf8" }).trim());
}

/** Build this checkout as step 1's `npm ci` does, into `pkg`: sources copied, node_modules linked. */
async function buildPackage(t: ExecutionContext, pkg: string): Promise<void> {
  const skip = new Set(["node_modules", "dist", ".git"].map((d) => join(ROOT, d)));
  cpSync(ROOT, pkg, { recursive: true, filter: (src) => !skip.has(src.replace(/\/$/, "")) });
  symlinkSync(join(ROOT, "node_modules"), join(pkg, "node_modules"));
  // tsc then the bundles: package.json's build script, in two steps so that a type error
  // elsewhere in a tree being worked on (tsc still emits) is reported but does not stop it.
  const tsc = await run(
    process.execPath,
    [join(pkg, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"],
    {
      cwd: pkg,
      timeoutMs: 120_000,
    },
  );
  if (tsc.code !== 0) t.log(`tsc reported (the build is used as emitted):\n${tsc.out.trim()}`);
  const bundles = await run("npm", ["run", "--silent", "build:bundles"], { cwd: pkg, timeoutMs: 60_000 });
  if (bundles.code !== 0) throw new Error(`npm run build:bundles failed:\n${bundles.out}`);
  for (const f of ["dist/src/main.js", "dist/handlers/src/dns-rfc2136.js"]) {
    if (!existsSync(join(pkg, f))) throw new Error(`the build has no ${f}:\n${tsc.out}`);
  }
}

/** What Debian's bind9 package leaves: named running on named.conf, rndc set up, an empty named.conf.local. */
function prepareDnsHost(root: string, rndcConf: string): string {
  const bind = { uid: idOf("bind", "-u"), gid: idOf("bind", "-g") };
  const dir = (p: string, mode: number) => {
    mkdirSync(join(root, p), { recursive: true });
    chownSync(join(root, p), 0, bind.gid);
    chmodSync(join(root, p), mode);
  };
  dir("etc/bind", 0o2755);
  dir("var/lib/bind", 0o775);
  dir("var/cache/bind", 0o775);
  const file = (p: string, text: string, mode = 0o644) => {
    writeFileSync(join(root, p), text);
    chownSync(join(root, p), 0, bind.gid);
    chmodSync(join(root, p), mode);
  };
  const etc = join(root, "etc/bind");
  file(
    "etc/bind/rndc.key",
    execFileSync("tsig-keygen", ["-a", "hmac-sha256", "rndc-key"], { encoding: "utf8" }),
    0o640,
  );
  file(
    "etc/bind/named.conf",
    [
      `include "${etc}/named.conf.options";`,
      `include "${etc}/named.conf.local";`,
      `include "${etc}/rndc.key";`,
      'controls { inet 127.0.0.1 port 953 allow { 127.0.0.1; } keys { "rndc-key"; }; };',
      "",
    ].join("\n"),
  );
  file(
    "etc/bind/named.conf.options",
    [
      "options {",
      `  directory "${join(root, "var/cache/bind")}";`,
      "  listen-on-v6 { none; };",
      "  pid-file none;",
      "  session-keyfile none;",
      "  dnssec-validation no;",
      "};",
      "",
    ].join("\n"),
  );
  file("etc/bind/named.conf.local", "// Local zones (the README's step 3 adds one).\n");
  writeFileSync(
    rndcConf,
    `include "${etc}/rndc.key";\noptions { default-key "rndc-key"; default-server 127.0.0.1; };\n`,
  );
  return join(etc, "named.conf");
}

/** What Debian's nginx package leaves: the default site serving /var/www/html on port 80. */
function nginxConf(root: string): string {
  mkdirSync(join(root, "var/www/html"), { recursive: true });
  mkdirSync(join(root, "var/lib/nginx"), { recursive: true });
  mkdirSync(join(root, "var/log/nginx"), { recursive: true });
  mkdirSync(join(root, "etc/nginx"), { recursive: true });
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(
    (k) => `  ${k}_temp_path ${join(root, "var/lib/nginx", k)};`,
  );
  const conf = join(root, "etc/nginx/nginx.conf");
  writeFileSync(
    conf,
    [
      hasUser("www-data") ? "user www-data;" : "user nobody;",
      "daemon off;",
      "worker_processes 1;",
      `pid ${join(root, "run/nginx.pid")};`,
      `error_log ${join(root, "var/log/nginx/error.log")};`,
      "events { worker_connections 64; }",
      "http {",
      "  access_log off;",
      ...temp,
      `  server { listen 80 default_server; root ${join(root, "var/www/html")}; }`,
      "}",
      "",
    ].join("\n"),
  );
  return conf;
}

maybe(
  `README "Run it on your servers", run on web1..web3 and a DNS server in network namespaces${why ? ` — skipped: ${why}` : ""}`,
  async (t) => {
    t.timeout(170_000);
    const started = performance.now();
    const blocks = deployBlocks(README);
    const hostsUsed = ["dns", ...WEB];

    const lab = mkdtempSync(join(tmpdir(), "conclave-readme-"));
    chmodSync(lab, 0o755); // the conclave, bind and www-data users walk through it
    const layout: Layout = { lab, pkg: join(lab, "opt/conclave") };
    const daemons: Daemon[] = [];
    const userExisted = hasUser("conclave");
    const net = new Lab(hostsUsed);
    t.teardown(async () => {
      for (const d of [...daemons].reverse()) await stopDaemon(d);
      net.destroy();
      if (!userExisted && hasUser("conclave")) {
        spawnSync("userdel", ["conclave"]);
        if (spawnSync("getent", ["group", "conclave"]).status === 0) spawnSync("groupdel", ["conclave"]);
      }
      rmSync(lab, { recursive: true, force: true });
    });
    const root = (h: string) => hostRoot(layout, h);
    const systemctlLog = (h: string) => join(root(h), "systemctl.requests");
    const rndcConf = join(lab, "rndc.conf");

    // The machines as their packages leave them.
    const build = buildPackage(t, layout.pkg);
    for (const h of hostsUsed) {
      for (const d of ["etc", "run", "var/lib", "root"]) mkdirSync(join(root(h), d), { recursive: true });
      chmodSync(join(root(h), "root"), 0o700);
    }
    const namedConf = prepareDnsHost(root("dns"), rndcConf);
    const named = daemon(
      "named",
      "ip",
      ["netns", "exec", net.ns.dns!, "named", "-g", "-u", "bind", "-n", "1", "-c", namedConf],
      {
        PATH: SYSTEMD_PATH,
      },
    );
    daemons.push(named);
    const nginx = new Map<string, Daemon>();
    for (const w of WEB) {
      mkdirSync(join(root(w), "etc/systemd/system"), { recursive: true });
      const conf = nginxConf(root(w));
      const d = daemon(
        `nginx ${w}`,
        "ip",
        ["netns", "exec", net.ns[w]!, "nginx", "-c", conf, "-e", join(root(w), "var/log/nginx/error.log")],
        {
          PATH: SYSTEMD_PATH,
        },
      );
      daemons.push(d);
      nginx.set(w, d);
    }
    await until(
      "named running",
      async () => {
        if (!alive(named)) throw new Error(`named exited:\n${named.output}`);
        return /\brunning\b/.test(named.output) ? true : undefined;
      },
      15_000,
    );
    /** A command in `host`'s namespace. */
    const inNs = (host: string, args: string[], timeoutMs = 30_000) =>
      run("ip", ["netns", "exec", net.ns[host]!, ...args], { env: { PATH: SYSTEMD_PATH }, timeoutMs });
    for (const w of WEB) {
      await until(
        `nginx answering on ${w}`,
        async () => {
          const d = nginx.get(w)!;
          if (!alive(d)) throw new Error(`nginx on ${w} exited:\n${d.output}`);
          const r = await inNs(w, [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "http://127.0.0.1/",
          ]);
          return r.code === 0 ? true : undefined;
        },
        15_000,
      );
    }
    await build;
    t.log(`package built, named and nginx up: ${((performance.now() - started) / 1000).toFixed(1)} s`);

    /** Run README text on `host`: the stand-ins, then the substituted text, in bash with its own host name. */
    let scriptNo = 0;
    const runOn = async (host: string, code: string): Promise<Run & { script: string }> => {
      const script = join(lab, "scripts", `${String(++scriptNo).padStart(2, "0")}-${host}.sh`);
      mkdirSync(join(lab, "scripts"), { recursive: true });
      writeFileSync(
        script,
        blockPrelude({ host, systemctlLog: systemctlLog(host), rndcConf }) +
          substitutePaths(code, host, layout) +
          "\n",
      );
      const r = await run("ip", ["netns", "exec", net.ns[host]!, "unshare", "--uts", "bash", script], {
        cwd: join(root(host), "root"),
        env: { PATH: SYSTEMD_PATH, HOME: join(root(host), "root"), LANG: "C.UTF-8" },
        timeoutMs: 60_000,
      });
      return { ...r, script };
    };

    // systemctl requests, carried out as systemd would.
    const agents = new Map<string, Daemon>();
    const startUnit = (host: string, unit: string) => {
      const file = join(root(host), "etc/systemd/system", `${unit}.service`);
      if (!existsSync(file))
        throw new Error(`${host}: systemctl start ${unit}: no ${relative(root(host), file)}`);
      const keys = unitServiceKeys(file);
      const one = (k: string) => keys.get(k)?.at(-1);
      const argv = execStartArgv(substitutePaths(one("ExecStart")!, host, layout));
      // The config the unit names was installed from the package: give it the same substitution.
      const config = argv[argv.indexOf("--config") + 1]!;
      writeFileSync(config, substitutePaths(readFileSync(config, "utf8"), host, layout));
      const user = one("User") ?? "root";
      const group = one("Group") ?? user;
      for (const dir of (one("StateDirectory") ?? "").split(/\s+/).filter(Boolean)) {
        const path = join(root(host), "var/lib", dir);
        mkdirSync(path, { recursive: true });
        chownSync(path, idOf(user, "-u"), idOf(group, "-g"));
        chmodSync(path, Number.parseInt(one("StateDirectoryMode") ?? "0755", 8));
      }
      const env: NodeJS.ProcessEnv = { PATH: SYSTEMD_PATH, LANG: "C.UTF-8" };
      for (const e of keys.get("Environment") ?? []) {
        for (const kv of e.split(/\s+/)) {
          const i = kv.indexOf("=");
          env[kv.slice(0, i)] = kv.slice(i + 1);
        }
      }
      // Not in the unit: the agent stops when the test goes away, even if it is killed.
      env.CONCLAVE_EXIT_WITH_PARENT = "1";
      const umask = one("UMask") ?? "0022";
      const d = daemon(
        `agent ${host}`,
        "ip",
        [
          "netns",
          "exec",
          net.ns[host]!,
          "setpriv",
          `--reuid=${user}`,
          `--regid=${group}`,
          "--init-groups",
          "--",
          "sh",
          "-c",
          `umask ${umask} && exec "$@"`,
          "sh",
          ...argv,
        ],
        env,
      );
      daemons.push(d);
      agents.set(host, d);
    };
    const carryOut = async (host: string) => {
      const file = systemctlLog(host);
      if (!existsSync(file)) return;
      const requests = readFileSync(file, "utf8").split("\n").filter(Boolean);
      rmSync(file);
      for (const req of requests) {
        const words = req.split(/\s+/);
        if (words[0] === "daemon-reload") continue;
        if ((words[0] === "enable" && words[1] === "--now") || words[0] === "start") {
          startUnit(host, words.at(-1)!.replace(/\.service$/, ""));
        } else if (words[0] === "stop" && words[1] === "nginx") {
          await stopDaemon(nginx.get(host)!, "SIGQUIT");
        } else {
          throw new Error(`${host}: systemctl ${req}: the test does not know how to do that`);
        }
      }
    };

    // Steps 1-4, as written.
    for (const block of blocks.filter((b) => b.kind === "step")) {
      for (const host of block.hosts) {
        const r = await runOn(host, block.code);
        if (r.code !== 0) {
          t.fail(`README.md:${block.line} on ${host} exited ${r.code} (${r.script}):\n${r.out}`);
          return;
        }
        await carryOut(host);
      }
    }
    t.deepEqual([...agents.keys()].sort(), [...WEB], "step 4 started the unit on each web server");
    // Each agent runs as the unit's user (so it reads its secrets through the group alone),
    // and the services_dir the example names but no step creates is only a warning.
    const unitUser = unitServiceKeys(join(root("web1"), "etc/systemd/system/conclave.service"))
      .get("User")!
      .at(-1)!;
    t.is(unitUser, "conclave");
    for (const [h, d] of agents) {
      const status = readFileSync(`/proc/${d.proc.pid}/status`, "utf8");
      t.is(
        /^Uid:\s+(\d+)/m.exec(status)?.[1],
        String(idOf(unitUser, "-u")),
        `the agent on ${h} runs as ${unitUser}`,
      );
      await until(
        `${h}: the services_dir warning`,
        async () =>
          d.output.includes(`services_dir ${join(root(h), "etc/conclave/services")} does not exist`)
            ? true
            : undefined,
        10_000,
      );
    }
    for (const w of WEB) {
      const key = join(root(w), "etc/conclave/dns-update.key");
      t.true(existsSync(key), `${w} has the TSIG key`);
    }
    // Role credentials and TLS from the steps: no agent warns INSECURE (shared token, no TLS).
    for (const [h, d] of agents) t.notRegex(d.output, /INSECURE/, `${h} logs no INSECURE warning`);
    t.log(`steps 1-4 done: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    const agentsAlive = () => {
      for (const [h, d] of agents) if (!alive(d)) throw new Error(`the agent on ${h} exited:\n${d.output}`);
    };

    // Step 5, line by line, on the host it names.
    const check = blocks.find((b) => b.kind === "check")!;
    const home = check.hosts[0]!;
    const setup: string[] = [];
    const stopped = new Set<string>();
    const drained = new Set<string>();
    const seen: string[] = [];
    const listed = () =>
      WEB.filter((w) => !stopped.has(w) && !drained.has(w))
        .map((w) => ADDRESS[w]!)
        .sort();
    for (const line of checkLines(check.code)) {
      if (/^(export\s|[A-Za-z_]\w*=)/.test(line)) {
        setup.push(line);
        continue;
      }
      const ssh = /^ssh\s+(\S+)\s+(.*)$/.exec(line);
      const host = ssh ? ssh[1]! : home;
      const cmd = ssh ? ssh[2]! : line;
      const once = async () => {
        agentsAlive();
        return runOn(host, ssh ? cmd : [...setup, cmd].join("\n"));
      };
      /** Run the line until `ok` holds for its outcome. */
      const poll = (what: string, ok: (r: Run) => boolean, timeoutMs = 30_000) =>
        until(
          `${what} (README: ${line})`,
          async () => {
            const r = await once();
            if (!ok(r)) throw new Error(`last output: ${r.out.trim()}`);
            return r;
          },
          timeoutMs,
        );
      const t0 = performance.now();
      if (/\bconclave status\b/.test(cmd)) {
        await poll("a leader", (r) => r.code === 0 && /^leader: +web[123]$/m.test(r.out));
        seen.push("status");
      } else if (/\bconclave members\b/.test(cmd)) {
        await poll("web1..web3 up, nginx passing", (r) =>
          WEB.every((w) => new RegExp(`^${w}\\s+\\S+\\s+up\\s+\\S*nginx:passing`, "m").test(r.out)),
        );
        seen.push("members");
      } else if (/^curl .*\/healthz/.test(cmd)) {
        await poll("/healthz ok", (r) => r.code === 0 && r.out.trim() === "ok");
        seen.push("healthz");
      } else if (/^dig\s/.test(cmd)) {
        const want = listed();
        const r = await poll(`DNS listing ${want.join(" ")}`, (r) => {
          const got = r.out.split("\n").filter((l) => /^\d+\.\d+\.\d+\.\d+$/.test(l));
          return r.code === 0 && got.sort().join(" ") === want.join(" ");
        });
        t.log(
          `dig: ${r.out.trim().split("\n").join(" ")} after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
        );
        seen.push(`dig ${want.length}`);
      } else if (/^systemctl stop nginx(\s|$)/.test(cmd)) {
        const r = await once();
        t.is(r.code, 0, r.out);
        await carryOut(host);
        const refused = await inNs(host, ["curl", "-s", "-o", "/dev/null", "http://127.0.0.1/health"]);
        t.not(refused.code, 0, `nginx on ${host} no longer answers`);
        stopped.add(host);
        seen.push("stop nginx");
      } else if (/\bconclave events\b/.test(cmd)) {
        await poll("check-failing and a handler run in the log", (r) =>
          ["check-failing", "handler-started", "handler-succeeded"].every((e) => r.out.includes(e)),
        );
        seen.push("events");
      } else if (/\bconclave drain (\S+)/.test(cmd)) {
        const member = /\bconclave drain (\S+)/.exec(cmd)![1]!;
        const r = await once();
        t.is(r.code, 0, r.out);
        drained.add(member);
        seen.push("drain");
      } else {
        t.fail(`README.md, step 5: the test does not know what this line promises: ${line}`);
      }
    }
    // Every promise of step 5 was checked, in this order.
    t.deepEqual(seen, [
      "status",
      "members",
      "healthz",
      "dig 3",
      "stop nginx",
      "dig 2",
      "events",
      "drain",
      "dig 1",
    ]);
    // A drained member keeps running, and is shown drained.
    for (const m of drained) t.true(alive(agents.get(m)!), `the agent on ${m} keeps running`);
    const members = await runOn(home, [...setup, "/opt/conclave/bin/conclave members $CLI"].join("\n"));
    for (const m of drained) t.regex(members.out, new RegExp(`^${m}\\s+\\S+\\s+drained`, "m"));
    t.log(`the whole deployment: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  },
);
