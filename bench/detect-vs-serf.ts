/**
 * Failure detection and handler runs, Conclave versus serf: in one run, a Conclave cluster
 * (3 electors, 5 member-only agents, default timing) and then 5 serf agents (Debian's `serf`
 * package, LAN profile), each as separate processes on 127.0.0.1 with an event handler on
 * member failure that appends one timestamped line per run to a log file. It measures and
 * reports; it asserts nothing.
 *
 * What it measures, for each group in turn (Conclave first, then serf, never both at once):
 * 1. after every member is up and a settle pause: RSS (VmRSS) of every process, and its idle
 *    CPU over `--idle` seconds (utime + stime from /proc/PID/stat, as % of one core);
 * 2. over the next `--wire` seconds, still idle: the bytes each process moves through its
 *    TCP and UDP sockets, counted with strace (see bench/socket-bytes.ts), and, for
 *    comparison, its /proc/PID/io rchar + wchar;
 * 3. `--rounds` rounds of: pick the next member (round-robin), note the wall clock, `kill -9`
 *    it, wait for the first handler run naming it (Conclave: 20 s, serf: 40 s), then for
 *    further runs until as many arrived as the design allows (Conclave 1, serf 4: every
 *    survivor) or 20 s passed, then 2 s more for any extra run; restart the member and wait
 *    until every member is up (Conclave's committed member table) or every agent sees every
 *    agent alive (`serf members`), then 1 s.
 * A handler run belongs to the round whose kill precedes it (and precedes the next kill)
 * when it names that round's member; kill-to-handler-start is the handler's own
 * `date +%s%N` minus the wall clock just before kill(2); for serf the first of its runs.
 *
 * Then one table: rows of figures, columns conclave | serf, with the versions, the machine
 * and the command above it and per-round and per-process details below it.
 *
 * serf comes from Debian's `serf` package: when `serf` is not on PATH the script runs
 * `apt-get install -y serf` (see {@link ensureSerf}); when that fails it says so and
 * measures Conclave alone, with "n/a" for serf. Conclave runs from `dist/` (the npm script
 * builds first).
 *
 * Run it:
 *   npm run bench:detect [-- --rounds N --idle S --wire S --skip-serf --quick]
 * Defaults: 20 rounds, 10 s idle CPU window, 30 s wire window (serf's LAN push-pull runs
 * every 30 s). `--quick`: 5 rounds, 5 s and 10 s (flags given alongside it win). Every
 * process and temp dir it made is removed on exit, on Ctrl-C and on errors.
 * Exit code: 0 when every group that ran was measured, 1 when a measurement failed, 2 on bad
 * usage, 130/143 when interrupted.
 */
import { parseBenchFlags } from "./bench-flags.ts";
import type { ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, release, tmpdir, type } from "node:os";
import { join } from "node:path";
import { cpuSeconds, rssMb, sleep } from "./bench-target.ts";
import { ConclaveMembers } from "./detect-conclave.ts";
import { SerfAgents, ensureSerf } from "./detect-serf.ts";
import { type DetectTarget, type HandlerRun, nowNs, until } from "./detect-target.ts";
import {
  ioChars,
  type SocketBytes,
  straceAvailable,
  straceVersion,
  traceSocketBytes,
} from "./socket-bytes.ts";

/** Pause between "every member up" and the idle measurements. */
const SETTLE_MS = 5000;
/** After the first run of a failure: how long to wait for the expected number of runs. */
const MORE_RUNS_CAP_MS = 20_000;
/** After the expected runs arrived: how long to keep watching for extra (wrong) runs. */
const EXTRA_RUNS_MS = 2000;
/** After a restarted member is back: pause before the next kill. */
const AFTER_RESTART_MS = 1000;

/** Settings of one run. */
interface Options {
  rounds: number;
  idleS: number;
  wireS: number;
  skipSerf: boolean;
}

const USAGE =
  "usage: npm run bench:detect -- [--rounds N] [--idle SECONDS] [--wire SECONDS] [--skip-serf] [--quick]";

function parseOptions(argv: string[]): Options {
  const { values, str, intFlag } = parseBenchFlags({
    program: "detect-vs-serf",
    usage: USAGE,
    argv,
    strings: ["rounds", "idle", "wire"],
    booleans: ["skip-serf", "quick"],
  });
  const quick = values.quick === true;
  return {
    rounds: intFlag("rounds", str("rounds"), quick ? 5 : 20, 1),
    idleS: intFlag("idle", str("idle"), quick ? 5 : 10, 1),
    wireS: intFlag("wire", str("wire"), quick ? 10 : 30, 1),
    skipSerf: values["skip-serf"] === true,
  };
}

/** One kill of one member and the handler runs it caused. */
interface Round {
  victim: string;
  killNs: bigint;
  /** Filled in by {@link attribute} once every round ran. */
  runs: HandlerRun[];
}

/** What was measured on one group; a field stays undefined when its phase did not run. */
interface Result {
  version?: string;
  /** The member processes (the rest of {@link rss} etc. are Conclave's electors). */
  memberNames: Set<string>;
  rss?: Map<string, number>;
  cpuPct?: Map<string, number>;
  wire?: Map<string, SocketBytes>;
  /** /proc/PID/io rchar + wchar per second over the wire window. */
  ioCharsPerS?: Map<string, number>;
  wireNote?: string;
  rounds: Round[];
  /** Runs that belong to no round (before the first kill, or not naming the round's member). */
  stray: HandlerRun[];
  /** Conclave only: what the committed event log says about the runs. */
  eventsCheck?: string[];
  skipped?: string;
  error?: string;
}

const progress = (line: string): void => {
  process.stderr.write(`[bench] ${line}\n`);
};

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const seconds = (ns: bigint): number => Number(ns) / 1e9;

/** The runs naming `member` logged after `fromNs`. */
function runsAbout(target: DetectTarget, member: string, fromNs: bigint): HandlerRun[] {
  return target.runs().filter((r) => r.atNs > fromNs && r.failed.includes(member));
}

/** Give every run to the round whose kill precedes it, when it names that round's member. */
function attribute(rounds: Round[], runs: HandlerRun[], endNs: bigint): HandlerRun[] {
  const stray: HandlerRun[] = [];
  for (const round of rounds) round.runs = [];
  for (const run of runs) {
    let owner: Round | undefined;
    for (let i = 0; i < rounds.length; i++) {
      const next = rounds[i + 1]?.killNs ?? endNs;
      if (run.atNs > rounds[i]!.killNs && run.atNs <= next) owner = rounds[i];
    }
    if (owner && run.failed.includes(owner.victim)) owner.runs.push(run);
    else stray.push(run);
  }
  return stray;
}

/** Idle RSS and CPU, then idle socket bytes, of every process of the group. */
async function measureIdle(target: DetectTarget, o: Options, r: Result, track: Tracker): Promise<void> {
  const pids = new Map([...target.memberPids(), ...target.otherPids()]);
  r.memberNames = new Set(target.memberPids().keys());
  progress(`${target.label}: idle CPU over ${o.idleS} s`);
  const cpu0 = new Map([...pids].map(([n, pid]) => [n, cpuSeconds(pid)]));
  const t0 = performance.now();
  await sleep(o.idleS * 1000);
  const elapsed = (performance.now() - t0) / 1000;
  r.cpuPct = new Map();
  r.rss = new Map();
  for (const [name, pid] of pids) {
    const a = cpu0.get(name);
    const b = cpuSeconds(pid);
    if (a !== undefined && b !== undefined) r.cpuPct.set(name, ((b - a) / elapsed) * 100);
    const mb = rssMb(pid);
    if (mb !== undefined) r.rss.set(name, mb);
  }

  const io0 = new Map([...pids].map(([n, pid]) => [n, ioChars(pid)]));
  const w0 = performance.now();
  if (straceAvailable()) {
    progress(`${target.label}: socket bytes over ${o.wireS} s (strace)`);
    const dir = mkdtempSync(join(tmpdir(), "conclave-bench-strace-"));
    track.dirs.add(dir);
    try {
      r.wire = await traceSocketBytes(pids, o.wireS, dir, (p, done) =>
        done ? track.procs.delete(p) : track.procs.add(p),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
      track.dirs.delete(dir);
    }
  } else {
    r.wireNote = "strace is not on PATH: socket bytes not measured";
    progress(`${target.label}: ${r.wireNote}; /proc/PID/io over ${o.wireS} s only`);
    await sleep(o.wireS * 1000);
  }
  const wElapsed = (performance.now() - w0) / 1000;
  r.ioCharsPerS = new Map();
  for (const [name, pid] of pids) {
    const a = io0.get(name);
    const b = ioChars(pid);
    if (a !== undefined && b !== undefined) r.ioCharsPerS.set(name, (b - a) / wElapsed);
  }
}

/** Kill members in turn and collect the handler runs. Fills `r` as it goes. */
async function measureRounds(target: DetectTarget, o: Options, r: Result): Promise<void> {
  const t = target.label;
  for (let k = 0; k < o.rounds; k++) {
    const victim = target.members[k % target.members.length]!;
    const killNs = nowNs();
    await target.kill9(victim);
    r.rounds.push({ victim, killNs, runs: [] });
    let note: string;
    try {
      const first = await until(
        `a handler run for ${victim}`,
        () => {
          const runs = runsAbout(target, victim, killNs);
          return runs.length ? runs : undefined;
        },
        target.detectTimeoutMs,
        20,
      );
      const firstAt = performance.now();
      await until(
        `${target.expectedRunsPerFailure} runs`,
        () =>
          runsAbout(target, victim, killNs).length >= target.expectedRunsPerFailure ||
          performance.now() - firstAt > MORE_RUNS_CAP_MS
            ? true
            : undefined,
        MORE_RUNS_CAP_MS + 5000,
        50,
      );
      await sleep(EXTRA_RUNS_MS);
      const runs = runsAbout(target, victim, killNs);
      note =
        `first run after ${seconds(first[0]!.atNs - killNs).toFixed(3)} s, ` +
        `${runs.length} run${runs.length === 1 ? "" : "s"} (${runs.map((x) => x.runner).join(", ")})`;
    } catch (e) {
      note = `NO RUN: ${(e as Error).message}`;
    }
    progress(`${t}: round ${k + 1}/${o.rounds}: killed ${victim}: ${note}; restarting it`);
    await target.restart(victim);
    await sleep(AFTER_RESTART_MS);
  }
  r.stray = attribute(r.rounds, target.runs(), nowNs());
}

/** Conclave only: compare the log with the committed events (member-down, handler-*). */
async function checkEvents(target: ConclaveMembers, r: Result): Promise<void> {
  const events = await target.events();
  const count = (type: string) => events.filter((e) => e.type === type);
  const downs = count("member-down");
  const started = count("handler-started");
  const retried = started.filter((e) => Number(e.details.attempt) > 1);
  const perEvent = new Map<number, number>();
  for (const e of started)
    perEvent.set(Number(e.details.event), (perEvent.get(Number(e.details.event)) ?? 0) + 1);
  const twice = [...perEvent].filter(([, n]) => n > 1);
  r.eventsCheck = [
    `committed: ${downs.length} member-down, ${started.length} handler-started ` +
      `(${retried.length} with attempt > 1), ${count("handler-succeeded").length} handler-succeeded, ` +
      `${count("handler-failed").length} handler-failed, ${count("leader-elected").length} leader-elected`,
    ...(twice.length
      ? [`events started more than once: ${twice.map(([id, n]) => `event ${id} x${n}`).join(", ")}`]
      : []),
  ];
}

// ---- Report ----

const mean = (v: readonly number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

/** Kill-to-first-run latencies in seconds, sorted, of the rounds that saw a run. */
function latencies(r: Result): number[] {
  return r.rounds
    .filter((x) => x.runs.length > 0)
    .map((x) => seconds(x.runs.reduce((a, b) => (a.atNs < b.atNs ? a : b)).atNs - x.killNs))
    .sort((a, b) => a - b);
}

/** The values of `m` that belong to member processes. */
function ofMembers(r: Result, m: Map<string, number> | undefined): number[] {
  return [...(m ?? [])].filter(([n]) => r.memberNames.has(n)).map(([, v]) => v);
}

/** Socket bytes per second (in + out) of every member process. */
function memberWireRates(r: Result): number[] {
  return [...(r.wire ?? [])]
    .filter(([n]) => r.memberNames.has(n))
    .map(([, w]) => (w.bytesIn + w.bytesOut) / w.seconds);
}

function table(results: [string, Result][]): string {
  type Cell = (r: Result, label: string) => string | undefined;
  const lat = (p: (v: number[]) => number): Cell => {
    return (r) => {
      const v = latencies(r);
      return v.length ? p(v).toFixed(2) : undefined;
    };
  };
  const rows: [string, Cell][] = [
    ["kill -> handler start p50 (s)", lat((v) => percentile(v, 50))],
    ["kill -> handler start p99 (s)", lat((v) => percentile(v, 99))],
    ["kill -> handler start max (s)", lat((v) => v[v.length - 1]!)],
    [
      "handler runs per failure, mean (min-max)",
      (r) => {
        if (!r.rounds.length) return undefined;
        const n = r.rounds.map((x) => x.runs.length);
        return `${mean(n).toFixed(2)} (${Math.min(...n)}-${Math.max(...n)})`;
      },
    ],
    [
      "failures with a handler run",
      (r) => (r.rounds.length ? `${latencies(r).length}/${r.rounds.length}` : undefined),
    ],
    [
      "member RSS, mean / max (MB)",
      (r) => {
        const v = ofMembers(r, r.rss);
        return v.length ? `${mean(v).toFixed(1)} / ${Math.max(...v).toFixed(1)}` : undefined;
      },
    ],
    [
      "member idle CPU, mean / max (% of a core)",
      (r) => {
        const v = ofMembers(r, r.cpuPct);
        return v.length ? `${mean(v).toFixed(2)} / ${Math.max(...v).toFixed(2)}` : undefined;
      },
    ],
    [
      "member bytes/s on the wire, mean / max",
      (r) => {
        const v = memberWireRates(r);
        return v.length ? `${Math.round(mean(v))} / ${Math.round(Math.max(...v))}` : undefined;
      },
    ],
  ];
  const lines: string[][] = [["", ...results.map(([l]) => l)]];
  for (const [label, get] of rows) {
    lines.push([
      label,
      ...results.map(([l, r]) => get(r, l) ?? (r.skipped ? "n/a" : r.error ? "failed" : "-")),
    ]);
  }
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const render = (l: string[]) =>
    `| ${l.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [render(lines[0]!), rule, ...lines.slice(1).map(render)].join("\n");
}

function details(label: string, r: Result): string[] {
  if (r.skipped) return [`  ${r.skipped}`];
  const per = (m: Map<string, number> | undefined, f: (v: number) => string) =>
    m && m.size ? [...m].map(([n, v]) => `${n} ${f(v)}`).join(", ") : "-";
  const out: string[] = [
    `  RSS MB: ${per(r.rss, (v) => v.toFixed(1))}`,
    `  idle CPU % of a core: ${per(r.cpuPct, (v) => v.toFixed(2))}`,
  ];
  if (r.wire) {
    out.push(
      `  socket bytes/s in+out (strace): ${[...r.wire]
        .map(([n, w]) => `${n} ${Math.round(w.bytesIn / w.seconds)}+${Math.round(w.bytesOut / w.seconds)}`)
        .join(", ")}`,
    );
  }
  if (r.wireNote) out.push(`  ${r.wireNote}`);
  out.push(
    `  /proc/PID/io rchar+wchar per s (any file; misses sendto/recvfrom): ${per(r.ioCharsPerS, (v) => String(Math.round(v)))}`,
  );
  for (const [i, round] of r.rounds.entries()) {
    const sorted = [...round.runs].sort((a, b) => (a.atNs < b.atNs ? -1 : 1));
    const runs = sorted
      .map(
        (x) =>
          `${seconds(x.atNs - round.killNs).toFixed(2)} s ${x.runner}${x.eventId ? ` [event/attempt ${x.eventId}]` : ""}`,
      )
      .join(", ");
    out.push(
      `  round ${String(i + 1).padStart(2)}: kill ${round.victim}: ${sorted.length} run(s)${runs ? `: ${runs}` : ""}`,
    );
  }
  const spread = r.rounds
    .filter((x) => x.runs.length > 1)
    .map((x) => {
      const t = x.runs.map((y) => y.atNs);
      return seconds(t.reduce((a, b) => (a > b ? a : b)) - t.reduce((a, b) => (a < b ? a : b)));
    });
  if (spread.length) {
    const lastLat = r.rounds
      .filter((x) => x.runs.length)
      .map((x) => seconds(x.runs.reduce((a, b) => (a.atNs > b.atNs ? a : b)).atNs - x.killNs))
      .sort((a, b) => a - b);
    out.push(
      `  rounds with more than one run: ${spread.length}; first-to-last run spread mean ${mean(spread).toFixed(2)} s, ` +
        `max ${Math.max(...spread).toFixed(2)} s; kill -> last run p50 ${percentile(lastLat, 50).toFixed(2)} s, ` +
        `max ${lastLat[lastLat.length - 1]!.toFixed(2)} s`,
    );
  }
  if (label === "conclave") {
    const dup = r.rounds.filter((x) => x.runs.length > 1);
    for (const x of dup) out.push(`  DUPLICATE RUNS for ${x.victim}:`, ...x.runs.map((y) => `    ${y.raw}`));
  }
  if (r.stray.length)
    out.push(`  runs in no round (${r.stray.length}):`, ...r.stray.map((y) => `    ${y.raw}`));
  for (const line of r.eventsCheck ?? []) out.push(`  ${line}`);
  if (r.error) out.push(`  FAILED: ${r.error}`);
  return out;
}

function commandLine(argv: string[]): string {
  if (process.env.npm_lifecycle_event === "bench:detect")
    return `npm run bench:detect${argv.length ? ` -- ${argv.join(" ")}` : ""}`;
  return `node --import=tsx bench/detect-vs-serf.ts${argv.length ? ` ${argv.join(" ")}` : ""}`;
}

// ---- Main ----

/** Everything to end on exit: the groups under test, strace processes and temp dirs. */
interface Tracker {
  targets: Set<DetectTarget>;
  procs: Set<ChildProcess>;
  dirs: Set<string>;
}

const track: Tracker = { targets: new Set(), procs: new Set(), dirs: new Set() };

function cleanUpNow(): void {
  for (const p of track.procs) p.kill("SIGKILL");
  track.procs.clear();
  for (const t of track.targets) {
    try {
      t.stopSync();
    } catch {
      // best effort: keep cleaning the others
    }
  }
  track.targets.clear();
  for (const d of track.dirs) rmSync(d, { recursive: true, force: true });
  track.dirs.clear();
}

async function runTarget(target: DetectTarget, o: Options, r: Result): Promise<void> {
  track.targets.add(target);
  try {
    progress(`${target.label}: starting`);
    await target.start();
    r.version = target.version();
    progress(`${target.label}: every member up; settling ${SETTLE_MS / 1000} s`);
    await sleep(SETTLE_MS);
    await measureIdle(target, o, r, track);
    await measureRounds(target, o, r);
    if (target instanceof ConclaveMembers) await checkEvents(target, r);
  } catch (e) {
    r.error = (e as Error).message;
    r.stray = attribute(r.rounds, target.runs(), nowNs());
    progress(`${target.label}: FAILED: ${r.error}\n${target.diagnostics()}`);
  } finally {
    progress(`${target.label}: stopping`);
    await target.stop().catch(() => target.stopSync());
    track.targets.delete(target);
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const o = parseOptions(argv);
  const loadAtStart = loadavg();
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n[bench] ${signal}: stopping every process and deleting the temp dirs\n`);
      cleanUpNow();
      process.exit(signal === "SIGTERM" ? 143 : 130);
    });
  }
  process.on("exit", cleanUpNow);

  const conclave: Result = { memberNames: new Set(), rounds: [], stray: [] };
  const serf: Result = { memberNames: new Set(), rounds: [], stray: [] };
  let serfVersion: string | undefined;
  if (o.skipSerf) serf.skipped = "skipped (--skip-serf)";
  else {
    const found = ensureSerf(progress);
    if (found.ok) serfVersion = found.version;
    else {
      serf.skipped = `n/a: ${found.reason}`;
      progress(`serf ${serf.skipped}; measuring Conclave alone`);
    }
  }

  await runTarget(new ConclaveMembers(), o, conclave);
  if (serfVersion) await runTarget(new SerfAgents(serfVersion), o, serf);

  const cpu = cpus();
  const out = [
    "",
    "Failure detection and handler runs: Conclave (3 electors + 5 members) vs serf (5 agents), processes on 127.0.0.1",
    `command:  ${commandLine(argv)}`,
    `machine:  ${cpu[0]?.model ?? "unknown CPU"} x ${cpu.length}, ${type()} ${release()}; ` +
      `load average ${loadAtStart.map((v) => v.toFixed(2)).join(" ")} at start, ${loadavg()
        .map((v) => v.toFixed(2))
        .join(" ")} at end`,
    `versions: node ${process.version}, conclave ${conclave.version ?? "-"}, serf ${serfVersion ?? "n/a"}, ${straceVersion() ?? "no strace"}`,
    "settings: conclave heartbeat 250 ms, member_timeout 1500 ms, raft heartbeat 100 ms, election timeout 1000 ms;",
    "          serf -profile=lan; handler on member-down / member-failed appends one line per run;",
    `          ${o.rounds} kill -9 of a member per group (round-robin), idle CPU over ${o.idleS} s, wire bytes over ${o.wireS} s`,
    "",
    table([
      ["conclave", conclave],
      ["serf", serf],
    ]),
    "",
    "kill -> handler start: from just before kill(2) to the handler's first command (`date +%s%N`); serf: the first of its runs.",
    "handler runs: lines in the group's shared log naming the killed member, between its kill and the next kill.",
    "p99 is nearest-rank: with 20 rounds it is the 20th value, the same as max.",
    "bytes on the wire: payload through the process's TCP and UDP sockets, in + out, from strace over an idle window",
    "  (no IP/TCP/UDP headers, no ACKs). Conclave members talk to the leader elector only; the electors' own",
    "  traffic (Raft between electors, plus the member streams at the leader) is listed below, not in the member row.",
    "conclave:",
    ...details("conclave", conclave),
    "serf:",
    ...details("serf", serf),
    "",
  ];
  process.stdout.write(out.join("\n"));
  return conclave.error || serf.error ? 1 : 0;
}

main().then(
  (code) => {
    cleanUpNow();
    process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`detect-vs-serf: ${(e as Error)?.stack ?? String(e)}\n`);
    cleanUpNow();
    process.exit(1);
  },
);
