/**
 * Conclave versus etcd 3.4: the same writes through the same driver code against three
 * Conclave electors and, in the same run, a three-member etcd cluster, each as three
 * separate processes on 127.0.0.1 with their data on disk (real fsync), the same Raft
 * heartbeat (100 ms) and election timeout (1000 ms), and written to over gRPC (Conclave's
 * control API `KvPut`, etcd's `KV/Put`). It measures and reports; it asserts nothing.
 *
 * What it measures, for each cluster in turn (Conclave first, then etcd, never both at once):
 * 1. idle RSS of each node (VmRSS from /proc) a couple of seconds after a leader is elected;
 * 2. a warm-up of 300 sequential puts (50 with `--quick`), untimed;
 * 3. `--seq` sequential puts to the leader, each awaited before the next: p50 and p99
 *    latency and puts per second;
 * 4. `--par` puts by 64 concurrent workers on one gRPC channel to the leader: puts per second;
 * 5. RSS of each node right after that load;
 * 6. `--failovers` rounds of: `kill -9` the leader; from just before the kill, the time until
 *    the first put acknowledged by either survivor (a new attempt to each every 20 ms, each
 *    with a 1 s deadline, so one stuck call never hides a later success); then restart the
 *    killed node and wait until every node agrees on the leader and has caught up.
 *    Reported as median and max.
 * During 3 and 4 it also reads the CPU time of every node (/proc/PID/stat) and of this
 * process, printed below the table as CPU ms per put, to show where the time goes.
 * Values are 100 bytes; keys cycle through 1,000 names per phase, so both stores hold a
 * bounded set of keys (etcd also keeps every revision: nothing compacts it).
 *
 * Then one table: rows of figures, columns conclave | etcd | conclave/etcd, with the
 * versions, the machine and the command above it, and per-node details below it.
 *
 * etcd comes from Debian's `etcd-server` package: when `etcd` is not on PATH the script
 * runs `apt-get install -y etcd-server` (see {@link ensureEtcd}); when that fails (no
 * network, not root, not Debian) it says so and measures Conclave alone, with "n/a" for
 * etcd. The electors run from `dist/` (the npm script builds first).
 *
 * Run it:
 *   npm run bench:raft [-- --seq N --par M --failovers K --skip-etcd --quick]
 * Defaults: 2,000 sequential puts, 10,000 with 64 in flight, 10 failovers. `--quick`:
 * 200, 2,000 and 2 (flags given alongside it win). Every process and temp dir it made is
 * removed on exit, on Ctrl-C and on errors.
 * Exit code: 0 when every cluster that ran was measured, 1 when a measurement failed,
 * 2 on bad usage, 130/143 when interrupted.
 */
import { parseBenchFlags } from "./bench-flags.ts";
import { cpus, release, type } from "node:os";
import { performance } from "node:perf_hooks";
import { cpuSeconds, rssMb, sleep, type Target } from "./bench-target.ts";
import { ConclaveTarget } from "./conclave-target.ts";
import { EtcdTarget, ensureEtcd } from "./etcd-target.ts";

const HEARTBEAT_MS = 100;
const ELECTION_MS = 1000;
const IN_FLIGHT = 64;
const VALUE_BYTES = 100;
const KEYS_PER_PHASE = 1000;
/** Pause between a leader's election and the idle RSS reading. */
const SETTLE_MS = 2000;
/** Failover: a new put attempt to each survivor this often, each with this deadline. */
const ATTEMPT_EVERY_MS = 20;
const ATTEMPT_DEADLINE_MS = 1000;
const FAILOVER_GIVE_UP_MS = 60_000;
const WHOLE_TIMEOUT_MS = 60_000;

/** Settings of one run. */
interface Options {
  seq: number;
  par: number;
  failovers: number;
  warmup: number;
  skipEtcd: boolean;
  quick: boolean;
}

const USAGE = "usage: npm run bench:raft -- [--seq N] [--par M] [--failovers K] [--skip-etcd] [--quick]";

function parseOptions(argv: string[]): Options {
  const { values, str, intFlag } = parseBenchFlags({
    program: "raft-vs-etcd",
    usage: USAGE,
    argv,
    strings: ["seq", "par", "failovers"],
    booleans: ["skip-etcd", "quick"],
  });
  const quick = values.quick === true;
  const seq = intFlag("seq", str("seq"), quick ? 200 : 2000, 1);
  return {
    seq,
    par: intFlag("par", str("par"), quick ? 2000 : 10_000, 1),
    failovers: intFlag("failovers", str("failovers"), quick ? 2 : 10, 0),
    warmup: quick ? 50 : 300,
    skipEtcd: values["skip-etcd"] === true,
    quick,
  };
}

/** What was measured on one cluster; a field stays undefined when its phase did not run. */
interface Result {
  version?: string;
  seqP50Ms?: number;
  seqP99Ms?: number;
  seqOps?: number;
  parOps?: number;
  failoverS: number[];
  idleRss?: Map<string, number>;
  loadedRss?: Map<string, number>;
  /** Where the CPU went in the sequential and the in-flight phases (see {@link cpuLine}). */
  cpuSeq?: string;
  cpuPar?: string;
  /** Why the cluster was not measured ("n/a") or where it failed. */
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

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

function readRss(target: Target): Map<string, number> {
  const out = new Map<string, number>();
  for (const [name, pid] of target.pids()) {
    const mb = rssMb(pid);
    if (mb !== undefined) out.set(name, mb);
  }
  return out;
}

/** CPU seconds used so far by every node and by this process, and when. */
interface CpuSample {
  nodes: Map<string, number>;
  client: number;
  at: number;
}

function cpuSample(target: Target): CpuSample {
  const nodes = new Map<string, number>();
  for (const [name, pid] of target.pids()) {
    const s = cpuSeconds(pid);
    if (s !== undefined) nodes.set(name, s);
  }
  const u = process.cpuUsage();
  return { nodes, client: (u.user + u.system) / 1e6, at: performance.now() };
}

/** CPU ms per put of each node and of the client between two samples, and the cores kept busy. */
function cpuLine(a: CpuSample, b: CpuSample, puts: number, leader: string): string {
  const parts: string[] = [];
  let total = b.client - a.client;
  for (const [name, end] of b.nodes) {
    const used = end - (a.nodes.get(name) ?? end);
    total += used;
    parts.push(`${name}${name === leader ? " (leader)" : ""} ${((used * 1000) / puts).toFixed(2)}`);
  }
  parts.push(`bench client ${(((b.client - a.client) * 1000) / puts).toFixed(2)}`);
  const cores = total / ((b.at - a.at) / 1000);
  return `${parts.join(", ")}; ${cores.toFixed(2)} cores busy in all`;
}

const VALUE = "conclave-bench-".padEnd(VALUE_BYTES, "0123456789abcdef");
const key = (phase: string, i: number): string =>
  `bench/${phase}/${String(i % KEYS_PER_PHASE).padStart(4, "0")}`;

/**
 * Kill the leader and time, from just before the kill, the first put acknowledged through
 * a survivor. Returns seconds and the node that acknowledged it.
 */
async function failoverOnce(target: Target, leader: string, round: number): Promise<[number, string]> {
  const survivors = target.names.filter((n) => n !== leader);
  const t0 = performance.now();
  await target.kill9(leader);
  return new Promise((resolve, reject) => {
    let done = false;
    let attempt = 0;
    const finish = (f: () => void) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      f();
    };
    const fire = () => {
      if (performance.now() - t0 > FAILOVER_GIVE_UP_MS) {
        finish(() =>
          reject(
            new Error(`no put acknowledged within ${FAILOVER_GIVE_UP_MS / 1000} s of killing ${leader}`),
          ),
        );
        return;
      }
      for (const name of survivors) {
        target.putTo(name, key(`failover${round}`, attempt++), VALUE, ATTEMPT_DEADLINE_MS).then(
          () => finish(() => resolve([(performance.now() - t0) / 1000, name])),
          () => {}, // no leader yet, or a deadline: the next attempt follows within 20 ms
        );
      }
    };
    const timer = setInterval(fire, ATTEMPT_EVERY_MS);
    fire();
  });
}

/** Run every phase against one cluster. Fills `r` as it goes, so a failure keeps what was measured. */
async function measure(target: Target, o: Options, r: Result): Promise<void> {
  const t = target.label;
  progress(`${t}: starting ${target.names.length} nodes`);
  await target.start();
  r.version = target.version();
  const firstLeader = await target.leaderName();
  progress(`${t}: leader ${firstLeader}; waiting ${SETTLE_MS / 1000} s before reading idle RSS`);
  await sleep(SETTLE_MS);
  r.idleRss = readRss(target);

  progress(`${t}: warm-up, ${o.warmup} puts`);
  for (let i = 0; i < o.warmup; i++) await target.put(key("warmup", i), VALUE);

  progress(`${t}: ${o.seq} sequential puts`);
  const latencies: number[] = new Array(o.seq);
  const seqCpu = cpuSample(target);
  const seqStart = performance.now();
  for (let i = 0; i < o.seq; i++) {
    const s = performance.now();
    await target.put(key("seq", i), VALUE);
    latencies[i] = performance.now() - s;
  }
  const seqSeconds = (performance.now() - seqStart) / 1000;
  r.cpuSeq = cpuLine(seqCpu, cpuSample(target), o.seq, firstLeader);
  latencies.sort((a, b) => a - b);
  r.seqP50Ms = percentile(latencies, 50);
  r.seqP99Ms = percentile(latencies, 99);
  r.seqOps = o.seq / seqSeconds;

  progress(`${t}: ${o.par} puts, ${IN_FLIGHT} in flight`);
  let next = 0;
  const worker = async () => {
    while (next < o.par) {
      const i = next++;
      await target.put(key("par", i), VALUE);
    }
  };
  const parCpu = cpuSample(target);
  const parStart = performance.now();
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, o.par) }, worker));
  r.parOps = o.par / ((performance.now() - parStart) / 1000);
  r.cpuPar = cpuLine(parCpu, cpuSample(target), o.par, firstLeader);
  r.loadedRss = readRss(target);

  for (let round = 1; round <= o.failovers; round++) {
    const leader = await target.leaderName(30_000);
    const [seconds, via] = await failoverOnce(target, leader, round);
    r.failoverS.push(seconds);
    progress(
      `${t}: failover ${round}/${o.failovers}: killed ${leader}, first put acknowledged after ${seconds.toFixed(3)} s (through ${via})`,
    );
    await target.restart(leader);
    await target.waitWhole(WHOLE_TIMEOUT_MS);
  }
}

// ---- Report ----

const fmt = {
  ms: (v: number) => v.toFixed(2),
  ops: (v: number) => Math.round(v).toLocaleString("en-US"),
  s: (v: number) => v.toFixed(2),
  mb: (v: number) => v.toFixed(1),
};

const maxOf = (m: Map<string, number> | undefined): number | undefined =>
  m && m.size > 0 ? Math.max(...m.values()) : undefined;

function table(c: Result, e: Result): string {
  const fo = (r: Result, f: (v: number[]) => number) => (r.failoverS.length > 0 ? f(r.failoverS) : undefined);
  const rows: [string, (r: Result) => number | undefined, (v: number) => string][] = [
    ["sequential put p50 (ms)", (r) => r.seqP50Ms, fmt.ms],
    ["sequential put p99 (ms)", (r) => r.seqP99Ms, fmt.ms],
    ["sequential puts/s", (r) => r.seqOps, fmt.ops],
    [`puts/s, ${IN_FLIGHT} in flight`, (r) => r.parOps, fmt.ops],
    ["failover median (s)", (r) => fo(r, median), fmt.s],
    ["failover max (s)", (r) => fo(r, (v) => Math.max(...v)), fmt.s],
    ["idle RSS per node, max (MB)", (r) => maxOf(r.idleRss), fmt.mb],
    ["loaded RSS per node, max (MB)", (r) => maxOf(r.loadedRss), fmt.mb],
  ];
  const cell = (r: Result, v: number | undefined, f: (v: number) => string) =>
    v !== undefined ? f(v) : r.skipped ? "n/a" : r.error ? "failed" : "-";
  const lines: string[][] = [["", "conclave", "etcd", "conclave/etcd"]];
  for (const [label, get, f] of rows) {
    const cv = get(c);
    const ev = get(e);
    const ratio = cv !== undefined && ev !== undefined && ev !== 0 ? `${(cv / ev).toFixed(2)}x` : "n/a";
    lines.push([label, cell(c, cv, f), cell(e, ev, f), ratio]);
  }
  const widths = lines[0]!.map((_, i) => Math.max(...lines.map((l) => l[i]!.length)));
  const render = (l: string[]) =>
    `| ${l.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join(" | ")} |`;
  const rule = `|${widths.map((w, i) => (i === 0 ? "-".repeat(w + 2) : `${"-".repeat(w + 1)}:`)).join("|")}|`;
  return [render(lines[0]!), rule, ...lines.slice(1).map(render)].join("\n");
}

function details(r: Result): string[] {
  const rss = (m: Map<string, number> | undefined) =>
    m ? [...m].map(([n, v]) => `${n} ${fmt.mb(v)}`).join(", ") : "-";
  if (r.skipped) return [`  ${r.skipped}`];
  return [
    `  idle RSS MB: ${rss(r.idleRss)}; loaded RSS MB: ${rss(r.loadedRss)}`,
    `  CPU ms per put, sequential: ${r.cpuSeq ?? "-"}`,
    `  CPU ms per put, ${IN_FLIGHT} in flight: ${r.cpuPar ?? "-"}`,
    `  failovers (s): ${r.failoverS.length ? r.failoverS.map((v) => v.toFixed(3)).join(", ") : "-"}`,
    ...(r.error ? [`  FAILED: ${r.error}`] : []),
  ];
}

function commandLine(argv: string[]): string {
  if (process.env.npm_lifecycle_event === "bench:raft")
    return `npm run bench:raft${argv.length ? ` -- ${argv.join(" ")}` : ""}`;
  return `node --import=tsx bench/raft-vs-etcd.ts${argv.length ? ` ${argv.join(" ")}` : ""}`;
}

// ---- Main ----

const active = new Set<Target>();

function cleanUpNow(): void {
  for (const t of active) {
    try {
      t.stopSync();
    } catch {
      // best effort: keep cleaning the others
    }
  }
  active.clear();
}

async function runTarget(make: () => Target, o: Options, r: Result): Promise<void> {
  const target = make();
  active.add(target);
  try {
    await measure(target, o, r);
  } catch (e) {
    r.error = (e as Error).message;
    progress(`${target.label}: FAILED: ${r.error}\n${target.diagnostics()}`);
  } finally {
    progress(`${target.label}: stopping`);
    await target.stop().catch(() => target.stopSync());
    active.delete(target);
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  const o = parseOptions(argv);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n[bench] ${signal}: stopping every cluster and deleting the temp dirs\n`);
      cleanUpNow();
      process.exit(signal === "SIGTERM" ? 143 : 130);
    });
  }
  process.on("exit", cleanUpNow);

  const conclave: Result = { failoverS: [] };
  const etcd: Result = { failoverS: [] };
  let etcdVersion: string | undefined;
  if (o.skipEtcd) etcd.skipped = "skipped (--skip-etcd)";
  else {
    const found = ensureEtcd(progress);
    if (found.ok) {
      etcdVersion = found.version;
      if (!/^3\.4\./.test(found.version))
        progress(`note: etcd ${found.version} is not 3.4; the reference figures are for 3.4`);
    } else {
      etcd.skipped = `n/a: ${found.reason}`;
      progress(`etcd ${etcd.skipped}; measuring Conclave alone`);
    }
  }

  await runTarget(
    () => new ConclaveTarget({ raftHeartbeat: `${HEARTBEAT_MS}ms`, electionTimeout: `${ELECTION_MS}ms` }),
    o,
    conclave,
  );
  if (etcdVersion) {
    const version = etcdVersion;
    await runTarget(
      () => new EtcdTarget({ heartbeatMs: HEARTBEAT_MS, electionMs: ELECTION_MS, version }),
      o,
      etcd,
    );
  }

  const cpu = cpus();
  const out = [
    "",
    "Conclave vs etcd: 3 nodes each, separate processes on 127.0.0.1, data on disk (fsync), gRPC clients",
    `command:  ${commandLine(argv)}`,
    `machine:  ${cpu[0]?.model ?? "unknown CPU"} x ${cpu.length}, ${type()} ${release()}`,
    `versions: node ${process.version}, conclave ${conclave.version ?? "-"}, etcd ${etcdVersion ?? "n/a"}`,
    `settings: heartbeat ${HEARTBEAT_MS} ms, election timeout ${ELECTION_MS} ms; ${o.seq} sequential puts, ` +
      `${o.par} puts with ${IN_FLIGHT} in flight, ${VALUE_BYTES}-byte values, ${o.failovers} failover${o.failovers === 1 ? "" : "s"} (kill -9 of the leader)`,
    "",
    table(conclave, etcd),
    "",
    "ratio = conclave / etcd: below 1 is better for ms, s and MB, above 1 is better for puts/s.",
    "conclave:",
    ...details(conclave),
    "etcd:",
    ...details(etcd),
    "",
  ];
  process.stdout.write(out.join("\n"));
  return conclave.error || etcd.error ? 1 : 0;
}

main().then(
  (code) => {
    cleanUpNow();
    process.exit(code);
  },
  (e: unknown) => {
    process.stderr.write(`raft-vs-etcd: ${(e as Error)?.stack ?? String(e)}\n`);
    cleanUpNow();
    process.exit(1);
  },
);
