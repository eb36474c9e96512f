/**
 * `conclave dev` (run by `npm start`): a local demo cluster on loopback. Three electors and
 * three members run as child processes of this one, with their data and logs in a
 * temporary folder. It shows the two things Conclave is for:
 *
 * - a failing check dropping a server from a reconciled list: each member has an HTTP check
 *   (`web`) against a tiny web server this process runs for it (demo-web.ts: `curl -X POST
 *   URL/break` and `/fix`), and the `live-servers` handler (live-servers-handler.ts) keeps
 *   `live-servers.txt` listing the members that are up with `web` passing;
 * - a master moving: every member runs the service `db` (demo-scripts.ts), of which the leader
 *   keeps one master; kill it, `conclave promote` another, or break its status script.
 *
 * A demo handler prints each membership event it is run for; handler runs and `db`'s promote /
 * demote appear in the terminal. Ctrl-C (or SIGTERM) stops every child and removes the
 * folder, leaving no process behind.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectControl } from "../control/control-client.ts";
import type { ControlApi } from "../control/control-types.ts";
import { DEMO_SERVICE, demoServicePaths, writeDemoHandler, writeDemoService } from "./demo-scripts.ts";
import { type DemoWeb, startDemoWeb } from "./demo-web.ts";
import { freePort, portFree } from "./free-port.ts";
import { ELECTOR_V8_FLAGS, MEMBER_V8_FLAGS } from "./node-v8-flags.ts";

/** Where `conclave dev` writes. */
export interface DevIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

/** The members' HTTP check. */
const WEB_CHECK = "web";
/** How often it runs, and how many runs in a row change its state (fall and rise). */
const WEB_CHECK_INTERVAL = "1s";
const WEB_CHECK_RUNS = 2;

/** `preferred` when it is free (so the default CONCLAVE_ADDR works), else any free port. */
async function pickPort(preferred: number, taken: Set<number>): Promise<number> {
  if (!taken.has(preferred) && (await portFree(preferred))) return preferred;
  return freePort();
}

interface DevNode {
  name: string;
  role: "elector" | "member";
  port: number;
  /** The status page's port (electors only). */
  httpPort: number | null;
  /** The member's demo web server (members only). */
  web: DemoWeb | null;
  proc: ChildProcess | null;
}

/** Whether `flock(1)` (util-linux) can be run. */
function haveFlock(): boolean {
  return spawnSync("flock", ["--version"], { stdio: "ignore" }).status === 0;
}

/** The live-servers handler's file beside this one (its .ts source, or the built .js). */
function liveServersHandlerPath(): string {
  const here = fileURLToPath(import.meta.url);
  return fileURLToPath(new URL(`./live-servers-handler${extname(here)}`, import.meta.url));
}

/** What the banner shows once the cluster is up (each part null when not known in time). */
interface Readiness {
  leader: string;
  master: string | null;
}

/** Wait (at most ~30 s) for a leader, every member up and a master of the demo service. */
async function waitReady(api: ControlApi, members: number, stopped: () => boolean): Promise<Readiness> {
  const r: Readiness = { leader: "", master: null };
  const deadline = Date.now() + 30_000;
  while (!stopped() && Date.now() < deadline) {
    try {
      r.leader = (await api.status()).leader;
      const view = (await api.members()).members;
      r.master = view.find((m) => m.services[DEMO_SERVICE]?.master)?.name ?? null;
      if (r.leader !== "" && view.filter((m) => m.status === "up").length === members && r.master) break;
    } catch {
      // still starting
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  return r;
}

/** Lines of `command  # comment`, the comments aligned. */
function commands(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([c]) => c.length));
  return rows.map(([c, note]) => `  ${c.padEnd(width)}  # ${note}`);
}

/** Run the demo cluster until SIGINT / SIGTERM. Resolves with the exit code. */
export async function runDevCluster(io: DevIo): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-dev-"));
  const tokenFile = join(dir, "token");
  const token = randomBytes(24).toString("base64url");
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  // What scripts and handlers print for the terminal; this process echoes it.
  const feed = join(dir, "handler.log");
  writeFileSync(feed, "");
  const handler = join(dir, "demo-handler");
  writeDemoHandler(handler, feed);
  const liveList = join(dir, "live-servers.txt");

  const taken = new Set<number>();
  const nodes: DevNode[] = [];
  for (const [i, name] of ["e1", "e2", "e3"].entries()) {
    const port = await pickPort(7400 + i, taken);
    taken.add(port);
    const httpPort = await pickPort(7480 + i, taken);
    taken.add(httpPort);
    nodes.push({ name, role: "elector", port, httpPort, web: null, proc: null });
  }
  for (const [i, name] of ["web1", "web2", "web3"].entries()) {
    // The web server first: it is listening before the next port is picked.
    const web = await startDemoWeb(name, 7420 + i, (line) =>
      io.out(`${new Date().toTimeString().slice(0, 8)} ${line}\n`),
    );
    taken.add(web.port);
    const port = await pickPort(7410 + i, taken);
    taken.add(port);
    nodes.push({ name, role: "member", port, httpPort: null, web, proc: null });
  }
  const electors = nodes.filter((n) => n.role === "elector");
  const members = nodes.filter((n) => n.role === "member");

  // The live-servers handler, under flock so that overlapping runs compare fences one at a time.
  const liveServers = [
    ...(haveFlock() ? ["flock", `${liveList}.lock`] : []),
    process.execPath,
    ...process.execArgv,
    liveServersHandlerPath(),
    liveList,
    WEB_CHECK,
    feed,
  ];
  const memberEvents = ["member-joined", "member-up", "member-down", "member-left"];
  for (const n of nodes) {
    const lines = [
      `name: ${n.name}`,
      `roles: [${n.role}]`,
      `listen: 127.0.0.1:${n.port}`,
      ...(n.httpPort !== null ? [`http: 127.0.0.1:${n.httpPort}`] : []),
      ...(n.role === "elector" ? [`data_dir: ${join(dir, n.name, "data")}`] : []),
      "cluster:",
      "  electors:",
      ...electors.map((e) => `    ${e.name}: 127.0.0.1:${e.port}`),
      `  token_file: ${tokenFile}`,
    ];
    if (n.role === "elector") {
      lines.push(
        "handlers:",
        "  - name: demo",
        `    on: [${memberEvents.join(", ")}]`,
        `    run: ${handler}`,
        "    timeout: 10s",
        "  - name: live-servers",
        "    mode: latest",
        `    on: [${[...memberEvents, "member-drained", "member-undrained", "check-failing", "check-passing"].join(", ")}]`,
        `    run: ${JSON.stringify(liveServers)}`,
        "    timeout: 10s",
      );
    } else {
      const paths = demoServicePaths(join(dir, n.name));
      writeDemoService(n.name, paths, feed);
      lines.push(
        "checks:",
        `  - name: ${WEB_CHECK}`,
        "    type: http",
        `    url: ${n.web!.base}/health`,
        "    expect: OK",
        `    interval: ${WEB_CHECK_INTERVAL}`,
        `    timeout: ${WEB_CHECK_INTERVAL}`,
        `    fall: ${WEB_CHECK_RUNS}`,
        `    rise: ${WEB_CHECK_RUNS}`,
        `services_dir: ${paths.servicesDir}`,
      );
    }
    lines.push("");
    mkdirSync(join(dir, n.name), { recursive: true });
    writeFileSync(join(dir, `${n.name}.yaml`), lines.join("\n"));
  }

  // Children run the same entry point as this process (built JS, or sources under tsx).
  const entry = process.argv[1]!;
  const start = (n: DevNode) => {
    const log = openSync(join(dir, `${n.name}.log`), "a");
    // Each role runs with the flags it is deployed with (node-v8-flags.ts).
    const v8 = n.role === "member" ? MEMBER_V8_FLAGS : ELECTOR_V8_FLAGS;
    n.proc = spawn(
      process.execPath,
      [...v8, ...process.execArgv, entry, "agent", "--config", join(dir, `${n.name}.yaml`)],
      {
        // A stdin pipe: if `conclave dev` is killed outright, the agents see it close and stop.
        stdio: ["pipe", log, log],
        env: {
          ...process.env,
          CONCLAVE_LOG_LEVEL: process.env.CONCLAVE_LOG_LEVEL ?? "info",
          CONCLAVE_EXIT_WITH_PARENT: "1",
        },
      },
    );
    closeSync(log);
  };
  for (const n of nodes) start(n);

  let stopping = false;
  const stopAll = async () => {
    const alive = nodes.filter((n) => n.proc && n.proc.exitCode === null && n.proc.signalCode === null);
    const exits = alive.map((n) => new Promise((r) => n.proc!.once("exit", r)));
    for (const n of alive) n.proc!.kill("SIGTERM");
    const timer = setTimeout(() => {
      for (const n of alive) n.proc!.kill("SIGKILL");
    }, 5000);
    await Promise.all(exits);
    clearTimeout(timer);
    await Promise.all(members.map((n) => n.web!.close()));
    rmSync(dir, { recursive: true, force: true });
  };

  // Wait for a leader, the members and a master, then tell the user what to try.
  const api = connectControl({ addr: `127.0.0.1:${electors[0]!.port}`, token, timeoutMs: 2000 });
  const ready = await waitReady(api, members.length, () => stopping);
  api.close();
  io.out(banner({ dir, tokenFile, liveList, nodes, ready }));

  // Echo the feed's lines as they appear.
  let offset = 0;
  const tail = setInterval(() => {
    if (!existsSync(feed)) return;
    const size = statSync(feed).size;
    if (size <= offset) return;
    const fd = openSync(feed, "r");
    const buf = Buffer.alloc(size - offset);
    readSync(fd, buf, 0, buf.length, offset);
    closeSync(fd);
    offset = size;
    io.out(buf.toString("utf8"));
  }, 300);

  return new Promise<number>((resolve) => {
    const onSignal = () => {
      if (stopping) return;
      stopping = true;
      clearInterval(tail);
      io.out("\nstopping the dev cluster...\n");
      stopAll().then(
        () => {
          io.out("stopped; no process left behind.\n");
          resolve(0);
        },
        (e: unknown) => {
          io.err(`conclave dev: ${(e as Error).message}\n`);
          resolve(1);
        },
      );
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
  });
}

/** The banner: the nodes, then what to try, each command with what it shows. */
function banner(o: {
  dir: string;
  tokenFile: string;
  liveList: string;
  nodes: readonly DevNode[];
  ready: Readiness;
}): string {
  const electors = o.nodes.filter((n) => n.role === "elector");
  const members = o.nodes.filter((n) => n.role === "member");
  const node = (name: string) => o.nodes.find((n) => n.name === name)!;
  const s = DEMO_SERVICE;
  const master = o.ready.master;
  // The web check is web2's (whatever db does); promote a member that is not db's master.
  const breakable = members[1]!;
  const target = members.filter((m) => m.name !== master).at(-1)!;
  const toBreak = breakable.web!.base;
  return [
    "",
    "Conclave dev cluster: 3 electors and 3 members on 127.0.0.1, data in a temporary folder.",
    `  leader: ${o.ready.leader || "(electing)"}   folder: ${o.dir}`,
    ...o.nodes.map(
      (n) =>
        `  ${n.role.padEnd(7)} ${n.name.padEnd(5)} 127.0.0.1:${n.port}  pid ${n.proc?.pid}` +
        (n.httpPort !== null ? `  status page http://127.0.0.1:${n.httpPort}/` : "") +
        (n.web !== null ? `  web ${n.web.base}/health` : ""),
    ),
    "",
    `Open http://127.0.0.1:${electors[0]!.httpPort}/ in a browser (also /metrics and /healthz).`,
    "",
    "Try, in another terminal:",
    `  export CONCLAVE_ADDR=127.0.0.1:${electors[0]!.port} CONCLAVE_TOKEN_FILE=${o.tokenFile}`,
    ...commands([
      ["bin/conclave status", "leader, term, commit, electors"],
      ["bin/conclave members", `each member: status, its "${WEB_CHECK}" check, its role in ${s}`],
      ["bin/conclave events --follow", "the committed event log, as it grows"],
    ]),
    "",
    `A failing check drops a server from a list (the live-servers handler keeps it):`,
    ...commands([
      [`watch cat ${o.liveList}`, `the members that are up with "${WEB_CHECK}" passing`],
      [
        `curl -X POST ${toBreak}/break`,
        `${breakable.name}'s /health answers 503: ${breakable.name} leaves the list`,
      ],
      [`curl -X POST ${toBreak}/fix`, `it answers 200 again: ${breakable.name} comes back`],
    ]),
    "",
    `A master moves: every member runs the service ${s}, and ${master ?? "one of them"} is its master:`,
    ...commands([
      [`bin/conclave events --type master-promoted`, `each new master of ${s}, with its epoch`],
      ...(master
        ? ([
            [
              `kill -9 ${node(master).proc?.pid}`,
              `${master} dies: the demo handler runs once, on the leader; ${s} moves once its lease runs out (3 s)`,
            ],
          ] as const)
        : []),
      [`bin/conclave promote ${s} ${target.name}`, `a planned switchover to ${target.name}`],
      [
        `touch ${demoServicePaths(join(o.dir, target.name)).brokenFile}`,
        `${s}'s status check fails on ${target.name}: ${s} moves away (rm it to repair)`,
      ],
    ]),
    "",
    `Handler runs and ${s}'s promote / demote appear below. Ctrl-C stops everything.`,
    "",
  ].join("\n");
}
