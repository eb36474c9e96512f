/**
 * `conclave dev` (run by `npm start`): a local demo cluster on loopback. Three electors and
 * three members run as child processes of this one, with their data and logs in a
 * temporary folder; a demo handler prints each membership event it is run for. Ctrl-C
 * (or SIGTERM) stops every child and removes the folder, leaving no process behind.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectControl } from "../control/control-client.ts";
import { freePort, portFree } from "./free-port.ts";
import { ELECTOR_V8_FLAGS, MEMBER_V8_FLAGS } from "./node-v8-flags.ts";

/** Where `conclave dev` writes. */
export interface DevIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

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
  proc: ChildProcess | null;
}

/** Run the demo cluster until SIGINT / SIGTERM. Resolves with the exit code. */
export async function runDevCluster(io: DevIo): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "conclave-dev-"));
  const tokenFile = join(dir, "token");
  const token = randomBytes(24).toString("base64url");
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const handlerLog = join(dir, "handler.log");
  writeFileSync(handlerLog, "");
  const handler = join(dir, "demo-handler");
  writeFileSync(
    handler,
    [
      "#!/bin/sh",
      "# The demo handler: runs on the leader, once per event, and says so.",
      "cat > /dev/null",
      `echo "$(date +%H:%M:%S) handler ran for $CONCLAVE_EVENT of \${CONCLAVE_MEMBER:-?} (event $CONCLAVE_EVENT_ID, attempt $CONCLAVE_ATTEMPT, fence $CONCLAVE_FENCE)" >> ${handlerLog}`,
      "",
    ].join("\n"),
  );
  chmodSync(handler, 0o755);

  const taken = new Set<number>();
  const nodes: DevNode[] = [];
  for (const [i, name] of ["e1", "e2", "e3"].entries()) {
    const port = await pickPort(7400 + i, taken);
    taken.add(port);
    const httpPort = await pickPort(7480 + i, taken);
    taken.add(httpPort);
    nodes.push({ name, role: "elector", port, httpPort, proc: null });
  }
  for (const [i, name] of ["web1", "web2", "web3"].entries()) {
    const port = await pickPort(7410 + i, taken);
    taken.add(port);
    nodes.push({ name, role: "member", port, httpPort: null, proc: null });
  }
  const electors = nodes.filter((n) => n.role === "elector");
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
      ...(n.role === "elector"
        ? [
            "handlers:",
            "  - name: demo",
            "    on: [member-down, member-up, member-joined, member-left]",
            `    run: ${handler}`,
            "    timeout: 10s",
          ]
        : []),
      "",
    ];
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
    rmSync(dir, { recursive: true, force: true });
  };

  // Wait for a leader and the members, then tell the user what to try.
  const api = connectControl({ addr: `127.0.0.1:${electors[0]!.port}`, token, timeoutMs: 2000 });
  let leader = "";
  for (let i = 0; i < 100 && !stopping; i++) {
    try {
      const s = await api.status();
      leader = s.leader;
      if (leader !== "" && s.members.up === 3) break;
    } catch {
      // still starting
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  api.close();
  const addr = `127.0.0.1:${electors[0]!.port}`;
  io.out(
    [
      "",
      "Conclave dev cluster: 3 electors and 3 members on 127.0.0.1, data in a temporary folder.",
      `  leader: ${leader || "(electing)"}   folder: ${dir}`,
      ...nodes.map(
        (n) =>
          `  ${n.role.padEnd(7)} ${n.name.padEnd(5)} 127.0.0.1:${n.port}  pid ${n.proc?.pid}` +
          (n.httpPort !== null ? `  status page http://127.0.0.1:${n.httpPort}/` : ""),
      ),
      "",
      `Open http://127.0.0.1:${electors[0]!.httpPort}/ in a browser (also /metrics and /healthz).`,
      "",
      "Try, in another terminal:",
      `  export CONCLAVE_ADDR=${addr} CONCLAVE_TOKEN_FILE=${tokenFile}`,
      "  bin/conclave status",
      "  bin/conclave members",
      "  bin/conclave events --follow",
      `  kill -9 ${nodes.find((n) => n.name === "web2")?.proc?.pid}      # web2 fails: the demo handler runs once, on the leader`,
      "",
      "Handler runs appear below. Ctrl-C stops everything.",
      "",
    ].join("\n"),
  );

  // Echo the demo handler's lines as they appear.
  let offset = 0;
  const tail = setInterval(() => {
    if (!existsSync(handlerLog)) return;
    const size = statSync(handlerLog).size;
    if (size <= offset) return;
    const fd = openSync(handlerLog, "r");
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
