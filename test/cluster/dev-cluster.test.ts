/**
 * `conclave dev` (npm start) as a user meets it: a banner with the nodes' pids and the commands
 * to try, the demo handler's line when a member is killed, the status page showing it down, a
 * broken health check dropping its member from the live-servers list and a fixed one bringing
 * it back, db's master moving when it is killed, on `promote` and on a failing status check,
 * and Ctrl-C leaving no process behind.
 *
 * The commands are the banner's own lines, run with `sh -c` after its `export` line, so the
 * banner cannot drift from what works; `bin/conclave` (the built copy) is replaced by the
 * sources, which is what is under test here.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import test, { type ExecutionContext } from "ava";
import { until } from "../support/cluster-wait.ts";
import { alive } from "../support/poll.ts";
import { conclaveArgv } from "../support/conclave-entry.ts";

/** One running `conclave dev`, its output so far, and the banner's commands. */
interface Dev {
  proc: ChildProcessWithoutNullStreams;
  out: () => string;
  /** Resolves with the first match of `re` in the output (null after `ms`). */
  waitFor: (re: RegExp, ms?: number) => Promise<RegExpMatchArray | null>;
  /** The banner's line matching `re` (the command, without its `# ...` note). */
  command: (re: RegExp) => string;
  /** Run a banner command as the user would (after the banner's `export` line). */
  sh: (command: string) => Promise<{ code: number; stdout: string; stderr: string }>;
  /** The demo's temporary folder. */
  folder: string;
}

const HAVE_CURL = spawnSync("curl", ["--version"], { stdio: "ignore" }).status === 0;

async function startDev(t: ExecutionContext): Promise<Dev> {
  const proc = spawn(process.execPath, conclaveArgv(["dev"]), {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let out = "";
  proc.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  proc.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  t.teardown(() => {
    if (proc.exitCode === null) proc.kill("SIGINT");
  });
  const waitFor = async (re: RegExp, ms = 30_000) => {
    const deadline = Date.now() + ms;
    while (!re.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    return out.match(re);
  };
  if (!(await waitFor(/Ctrl-C stops everything/, 60_000))) throw new Error(`no banner:\n${out}`);
  const command = (re: RegExp) => {
    const line = out.split("\n").find((l) => re.test(l));
    if (!line) throw new Error(`the banner has no line matching ${re}:\n${out}`);
    return line.replace(/\s+# .*$/, "").trim();
  };
  const exportLine = command(/^\s+export CONCLAVE_ADDR=/);
  const sh = (cmd: string) => {
    const run = cmd.replace(
      /^bin\/conclave\b/,
      [process.execPath, ...conclaveArgv([])].map((a) => `"${a}"`).join(" "),
    );
    return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile("sh", ["-c", `${exportLine}; ${run}`], { timeout: 70_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr });
      });
    });
  };
  return { proc, out: () => out, waitFor, command, sh, folder: out.match(/folder: (\S+)/)![1]! };
}

/** Ctrl-C: exit 0, and no process left that names the demo's folder (agents, watchdogs, handlers). */
async function stopDev(t: ExecutionContext, dev: Dev, pids: number[]): Promise<void> {
  const exited = new Promise<number | null>((r) => dev.proc.once("close", (code) => r(code)));
  dev.proc.kill("SIGINT");
  t.is(await exited, 0);
  t.regex(dev.out(), /no process left behind/);
  t.deepEqual(pids.filter(alive), []);
  if (existsSync("/proc/self/cmdline")) {
    const left = readdirSync("/proc")
      .filter((p) => /^\d+$/.test(p))
      .flatMap((p) => {
        try {
          const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ");
          return cmd.includes(dev.folder) ? [`${p}: ${cmd}`] : [];
        } catch {
          return []; // gone meanwhile
        }
      });
    t.deepEqual(left, [], "no process mentions the demo folder");
  }
  t.false(existsSync(dev.folder), "the folder is removed");
}

/** The node pids the banner lists. */
const bannerPids = (out: string) => [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));

/** The members `live-servers.txt` lists now. */
function listed(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/** Committed events of `type`, through the banner's export line. */
async function events(
  dev: Dev,
  type: string,
): Promise<{ id: number; member: string; details: Record<string, unknown> }[]> {
  const r = await dev.sh(`bin/conclave events --json --type ${type}`);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { id: number; member: string; details: Record<string, unknown> });
}

/** `members --json` through the banner's export line: the master of db, or null. */
async function masterOf(dev: Dev, service: string): Promise<string | null> {
  const r = await dev.sh("bin/conclave members --json");
  if (r.code !== 0) throw new Error(r.stderr);
  const members = JSON.parse(r.stdout) as { name: string; services: Record<string, { master: boolean }> }[];
  const masters = members.filter((m) => m.services[service]?.master).map((m) => m.name);
  if (masters.length > 1) throw new Error(`two masters of ${service}: ${masters.join(", ")}`);
  return masters[0] ?? null;
}

test.serial(
  "conclave dev: kill -9 a member, the demo handler runs once; Ctrl-C stops every child",
  async (t) => {
    const dev = await startDev(t);
    const out = dev.out();
    const pids = bannerPids(out);
    t.is(pids.length, 6);
    const web2 = Number(out.match(/web2\s+\S+\s+pid (\d+)/)![1]);
    process.kill(web2, "SIGKILL");
    t.truthy(await dev.waitFor(/handler ran for member-down of web2/), dev.out());
    // A later, distinguishable run: web3's member-down. A (wrong) second run for web2 would
    // have printed its line before web3's.
    const web3 = Number(out.match(/web3\s+\S+\s+pid (\d+)/)![1]);
    process.kill(web3, "SIGKILL");
    t.truthy(await dev.waitFor(/handler ran for member-down of web3/), dev.out());
    t.deepEqual(
      [...dev.out().matchAll(/handler ran for member-down of (\S+)/g)].map((m) => m[1]),
      ["web2", "web3"],
      "the handler ran exactly once for each",
    );
    // The status page the banner points at shows it too.
    const page = out.match(/Open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/)![1]!;
    const html = await (await fetch(page)).text();
    t.regex(html, /<td>web2<\/td><td>127\.0\.0\.1:\d+<\/td><td><span class="badge bad">down<\/span>/);
    t.is((await fetch(`${page}healthz`)).status, 200);
    await stopDev(t, dev, pids);
  },
);

/** `test.serial` when curl is installed (the banner's /break and /fix are curl commands); otherwise a skip saying why. */
const curlTest = (title: string, fn: (t: ExecutionContext) => Promise<void>) =>
  HAVE_CURL
    ? test.serial(title, fn)
    : test.serial.skip(`${title} [skipped: curl not installed; apt-get install curl]`, fn);

curlTest(
  "conclave dev: the banner's /break drops a member from live-servers.txt with a check-failing event; /fix brings it back",
  async (t) => {
    const dev = await startDev(t);
    const file = dev.command(/^\s+watch cat /).replace(/^watch cat /, "");
    const all = ["web1", "web2", "web3"];
    await until("every member listed", async () => (listed(file).join() === all.join() ? true : undefined));

    const breakIt = dev.command(/^\s+curl -X POST \S+\/break/);
    const member = dev.out().match(/# (\S+)'s \/health answers 503/)![1]!;
    const broke = await dev.sh(breakIt);
    t.is(broke.code, 0, broke.stderr);
    t.regex(broke.stdout, new RegExp(`${member}: /health answers 503`));
    const without = all.filter((n) => n !== member);
    await until(`${member} dropped from the list`, async () =>
      listed(file).join() === without.join() ? true : undefined,
    );
    const failing = await until("check-failing committed", async () =>
      (await events(dev, "check-failing")).find((e) => e.member === member),
    );
    t.is(failing.details.check, "web");
    t.truthy(
      await dev.waitFor(
        new RegExp(`live servers: ${without.join(" ")} +\\(${member} out: its "web" check is failing\\)`),
      ),
      dev.out(),
    );

    const fixed = await dev.sh(dev.command(/^\s+curl -X POST \S+\/fix/));
    t.is(fixed.code, 0, fixed.stderr);
    await until(`${member} back in the list`, async () =>
      listed(file).join() === all.join() ? true : undefined,
    );
    const passing = (await events(dev, "check-passing")).filter((e) => e.id > failing.id);
    t.deepEqual(
      passing.map((e) => [e.member, e.details.check]),
      [[member, "web"]],
      "one check-passing after the failure",
    );
    t.truthy(await dev.waitFor(new RegExp(`live servers: ${all.join(" ")} +\\(${member} in\\)`)), dev.out());
    await stopDev(t, dev, bannerPids(dev.out()));
  },
);

test.serial(
  "conclave dev: db has one master; it moves when the banner's kill -9, promote and broken status check say so",
  async (t) => {
    const dev = await startDev(t);
    const first = dev.out().match(/and (\S+) is its master/)![1]!;
    t.is(await masterOf(dev, "db"), first);
    const promoted = await dev.sh(dev.command(/^\s+bin\/conclave events --type master-promoted/));
    t.is(promoted.code, 0, promoted.stderr);
    t.deepEqual(
      [...promoted.stdout.matchAll(/\bmaster-promoted\s+(\S+)\s+db\b/g)].map((m) => m[1]),
      [first],
      "one promotion so far",
    );
    t.truthy(await dev.waitFor(new RegExp(`${first} ran promote: ${first} is master of db \\(epoch 1\\)`)));

    // kill -9 of the master: another member is promoted (epoch 2), and the demo handler ran once.
    const killed = await dev.sh(dev.command(/^\s+kill -9 \d+/));
    t.is(killed.code, 0, killed.stderr);
    const second = await until("a new master after the kill", async () => {
      const m = await masterOf(dev, "db");
      return m !== null && m !== first ? m : undefined;
    });
    t.truthy(await dev.waitFor(new RegExp(`${second} ran promote: ${second} is master of db \\(epoch 2\\)`)));
    t.truthy(await dev.waitFor(new RegExp(`handler ran for member-down of ${first}\\b`)));

    // A planned switchover to the member the banner names.
    const promote = dev.command(/^\s+bin\/conclave promote db \S+/);
    const target = promote.split(" ").at(-1)!;
    const switched = await dev.sh(promote);
    t.is(switched.code, 0, switched.stderr);
    t.regex(switched.stdout, new RegExp(`^${target} is master of db \\(epoch \\d+`));
    t.is(await masterOf(dev, "db"), target);

    // Its status check fails: db moves away from it, to the one member left.
    const touch = dev.command(/^\s+touch \S+\/db\.broken/);
    t.true(touch.includes(`/${target}/`), touch);
    const touched = await dev.sh(touch);
    t.is(touched.code, 0, touched.stderr);
    const last = await until("db moved off the broken member", async () => {
      const m = await masterOf(dev, "db");
      return m !== null && m !== target ? m : undefined;
    });
    t.not(last, first, "not the dead member");
    const demoted = (await events(dev, "master-demoted")).filter((e) => e.member === target);
    t.deepEqual(
      demoted.map((e) => e.details.reason),
      ["the service's status check is failing"],
      "the broken member was demoted once, for its status check",
    );
    await stopDev(t, dev, bannerPids(dev.out()));
  },
);
