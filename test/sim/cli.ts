/**
 * `npm run sim -- --seeds N [--nodes K] [--seed S] [--steps M] [--jobs J] [--bug NAME] [--trace]`
 *
 * Runs seeds S .. S+N-1 (or just S when --seeds is absent) through the Raft simulation,
 * spread over J child processes. For each failing seed it prints the seed, the broken
 * invariant, the last events before it and the exact command that replays it. The last line
 * is `seeds: N, violations: V`; the exit code is 1 when V > 0, 2 on bad usage.
 */
import { fork } from "node:child_process";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { BUGS } from "./bugs.ts";
import { runSimulation, type SimResult } from "./simulation.ts";

interface Args {
  first: number;
  count: number;
  nodes: number;
  steps: number;
  jobs: number;
  bug: string | undefined;
  trace: boolean;
}

const USAGE =
  "usage: npm run sim -- [--seeds N] [--seed S] [--nodes K] [--steps M] [--jobs J] [--bug NAME] [--trace]\n" +
  `  --bug injects a known Raft bug to show the simulation finds it: ${BUGS.map((b) => b.name).join(", ")}`;

function usage(problem: string): never {
  process.stderr.write(`sim: ${problem}\n${USAGE}\n`);
  process.exit(2);
}

function positiveInt(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < min)
    usage(`--${name} must be an integer >= ${min}, got "${value}"`);
  return Number(value);
}

function parse(argv: string[]): Args & { worker: boolean } {
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        seeds: { type: "string" },
        seed: { type: "string" },
        nodes: { type: "string" },
        steps: { type: "string" },
        jobs: { type: "string" },
        bug: { type: "string" },
        trace: { type: "boolean" },
        worker: { type: "boolean" },
        help: { type: "boolean" },
      },
      strict: true,
    });
  } catch (e) {
    usage((e as Error).message);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(0);
  }
  const bug = v.bug as string | undefined;
  if (bug !== undefined && !BUGS.some((b) => b.name === bug)) usage(`unknown --bug "${bug}"`);
  return {
    first: positiveInt("seed", v.seed as string | undefined, 1, 0),
    count: positiveInt("seeds", v.seeds as string | undefined, 1),
    nodes: positiveInt("nodes", v.nodes as string | undefined, 5),
    steps: positiveInt("steps", v.steps as string | undefined, 1000),
    jobs: positiveInt("jobs", v.jobs as string | undefined, availableParallelism()),
    bug,
    trace: v.trace === true,
    worker: v.worker === true,
  };
}

/** The command that replays one seed exactly. */
function replayCommand(a: Args, seed: number): string {
  const bug = a.bug ? ` --bug ${a.bug}` : "";
  return `npm run sim -- --seed ${seed} --nodes ${a.nodes} --steps ${a.steps}${bug} --trace`;
}

function report(a: Args, r: Extract<SimResult, { ok: false }>): string {
  return [
    `seed ${r.seed}: ${r.invariant} violated at tick ${r.tick}`,
    `  ${r.message.split("\n")[0]}`,
    "  last events:",
    ...r.history.map((h) => `    ${h}`),
    `  replay: ${replayCommand(a, r.seed)}`,
    "",
  ].join("\n");
}

/** Run seeds [from, to) in this process; failures are written as JSON lines. */
function runRange(a: Args, from: number, to: number, emit: (line: string) => void): void {
  if (a.bug) BUGS.find((b) => b.name === a.bug)!.inject();
  for (let seed = from; seed < to; seed++) {
    const r = runSimulation({
      seed,
      nodes: a.nodes,
      steps: a.steps,
      historySize: a.trace ? 400 : 30,
      trace: a.trace,
    });
    emit(JSON.stringify(r.ok ? { ok: true, seed } : r));
  }
}

async function main(): Promise<void> {
  const a = parse(process.argv.slice(2));
  const started = process.hrtime.bigint();
  const results: SimResult[] = [];
  const onLine = (line: string) => {
    const r = JSON.parse(line) as SimResult;
    results.push(r);
    if (!r.ok) process.stdout.write(report(a, r));
  };

  if (a.worker) {
    runRange(a, a.first, a.first + a.count, (line) => process.stdout.write(`${line}\n`));
    return;
  }
  const jobs = Math.min(a.jobs, a.count);
  if (jobs <= 1) {
    runRange(a, a.first, a.first + a.count, onLine);
  } else {
    const self = fileURLToPath(import.meta.url);
    const per = Math.ceil(a.count / jobs);
    const children: Promise<void>[] = [];
    for (let j = 0; j < jobs; j++) {
      const from = a.first + j * per;
      const n = Math.min(per, a.first + a.count - from);
      if (n <= 0) continue;
      const args = ["--worker", "--seed", String(from), "--seeds", String(n), "--nodes", String(a.nodes)];
      args.push(
        "--steps",
        String(a.steps),
        ...(a.bug ? ["--bug", a.bug] : []),
        ...(a.trace ? ["--trace"] : []),
      );
      const child = fork(self, args, {
        execArgv: process.execArgv,
        stdio: ["ignore", "pipe", "inherit", "ipc"],
      });
      children.push(
        new Promise((resolve, reject) => {
          let buf = "";
          child.stdout!.on("data", (d: Buffer) => {
            buf += d.toString();
            let nl = buf.indexOf("\n");
            while (nl >= 0) {
              onLine(buf.slice(0, nl));
              buf = buf.slice(nl + 1);
              nl = buf.indexOf("\n");
            }
          });
          child.on("exit", (code) =>
            code === 0 ? resolve() : reject(new Error(`sim worker exited with ${code}`)),
          );
        }),
      );
    }
    await Promise.all(children);
  }
  const violations = results.filter((r) => !r.ok).length;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(
    `nodes: ${a.nodes}, steps: ${a.steps}, jobs: ${jobs}, wall: ${seconds.toFixed(1)} s${a.bug ? `, injected bug: ${a.bug}` : ""}\n`,
  );
  process.stdout.write(`seeds: ${results.length}, violations: ${violations}\n`);
  process.exitCode = violations > 0 ? 1 : 0;
}

main().catch((e: unknown) => {
  process.stderr.write(`sim: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
