/**
 * `conclave` in a pipe whose reader goes away (`conclave events --json | head -1`): the
 * command ends quietly, exit 0 and nothing on stderr, as git and etcdctl do (docs/cli.md, exit
 * codes). Against one real elector whose event log is far larger than a pipe holds, so the
 * reader is gone while the command is still writing.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import test from "ava";
import type { ControlApi } from "../../src/control/control-types.ts";
import { ProcessCluster } from "../support/process-cluster.ts";
import { conclaveArgv } from "../support/conclave-entry.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The executable, as test/support/run-conclave.ts runs it. */
const CONCLAVE = [process.execPath, ...conclaveArgv([])];

let cluster: ProcessCluster;
let api: ControlApi;
let client: string[];

/** Commit one checks-updated event; its details hold the checks: about 100 KiB for 60 (the cap is 64). */
async function checksEvent(count = 60): Promise<void> {
  const checks = Array.from({ length: count }, (_, i) => ({
    name: `check-${i}`,
    type: "file_contains",
    path: "/etc/hosts",
    contains: "x".repeat(1600),
  }));
  await api.checksApply(JSON.stringify(checks));
}

test.before(async () => {
  cluster = await ProcessCluster.create({ names: ["p1"] });
  cluster.startAll();
  await cluster.waitForLeader();
  api = cluster.client("p1", 10_000);
  for (let i = 0; i < 12; i++) await checksEvent();
  client = ["--addr", cluster.nodes.get("p1")!.addr, "--token-file", cluster.tokenFile];
});

test.after.always(async () => {
  api?.close();
  await cluster?.destroy();
});

test("the event log is far larger than a pipe holds", async (t) => {
  const { eventsJson } = await api.events(0, "", 1000);
  const bytes = eventsJson.reduce((n, line) => n + line.length + 1, 0);
  t.true(bytes > 1024 * 1024, `${bytes} bytes`);
});

test("events --json | head -1 exits 0 with nothing on stderr", async (t) => {
  const cmd = [...CONCLAVE, "events", "--json", ...client].map((a) => `'${a}'`).join(" ");
  // pipefail: the pipeline's status is the CLI's, not head's.
  const r = await run("bash", ["-o", "pipefail", "-c", `${cmd} | head -1`]);
  t.is(r.stderr, "");
  t.is(r.code, 0);
  t.is(r.stdout.split("\n").length, 2, "one line and its newline");
  t.is(JSON.parse(r.stdout).type, "leader-elected");
});

test("a reader that closes after the first chunk ends events (text) with exit 0 and no stderr", async (t) => {
  const r = await closeAfterFirstChunk(["events", ...client]);
  t.is(r.stderr, "");
  t.is(r.code, 0);
  t.regex(r.first, /^\d+ {2}\S+ {2}leader-elected /);
});

test("events --follow ends with exit 0 at its first write after the reader closed", async (t) => {
  const { eventsJson } = await api.events(0, "", 1000);
  const last = JSON.parse(eventsJson.at(-1)!).id as number;
  // Nothing to print until the next event: the first chunk is that event (a small one) alone.
  const child = spawnConclave(["events", "--follow", "--json", "--since", String(last), ...client]);
  const firstChunk = new Promise<string>((resolve) =>
    child.stdout.once("data", (d: Buffer) => resolve(`${d}`)),
  );
  await checksEvent(1);
  const first = await firstChunk;
  t.is(JSON.parse(first.split("\n")[0]!).id, last + 1);
  child.stdout.destroy();
  // --follow prints until interrupted: only the closed pipe can end it, at the next event.
  await checksEvent(1);
  const r = await child.done;
  t.is(r.stderr, "");
  t.is(r.code, 0);
});

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[]): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d));
    child.stderr.on("data", (d: Buffer) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

/** Start the CLI with `args`; `done` resolves with its exit code and stderr. */
function spawnConclave(args: string[]) {
  const child = spawn(CONCLAVE[0]!, [...CONCLAVE.slice(1), ...args], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d));
  const done = new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stderr }));
  });
  return { stdout: child.stdout, done };
}

/** Run the CLI with `args`, reading its stdout only until the first chunk. */
async function closeAfterFirstChunk(
  args: string[],
): Promise<{ code: number | null; stderr: string; first: string }> {
  const child = spawnConclave(args);
  const first = await new Promise<string>((resolve) =>
    child.stdout.once("data", (d: Buffer) => {
      child.stdout.destroy();
      resolve(`${d}`);
    }),
  );
  return { ...(await child.done), first };
}
