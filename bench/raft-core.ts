/**
 * Raft core throughput benchmark: committed entries per second through a 3-node cluster
 * with no I/O at all, to show that the consensus core is never the bottleneck (goal:
 * 100,000 entries/s or more).
 *
 * What it measures. Three {@link RawNode}s with {@link MemoryStorage} and {@link SeededRng}
 * run in one process; every Ready is handled as the contract says (persist snapshot,
 * entries and hard state to the MemoryStorage, then queue the messages, then apply the
 * committed entries, then `advance()`), and queued messages are stepped straight into the
 * destination node (no encoding, no copying, no network). Nothing ticks during a run, so
 * there are no heartbeats: only proposals, appends, acknowledgements and commits. The
 * figures are therefore an upper bound for the core alone; a real node adds protobuf
 * encoding, the transport and the fsync of the LevelDB write.
 *
 * Runs (each on a fresh cluster, after an untimed warm-up run to let V8 optimise):
 * - `batched`: the leader proposes `--batch` entries of `--size` bytes, then Readys are
 *   processed and messages delivered until the whole batch appears in the leader's
 *   `Ready.committedEntries`; repeated until `--entries` entries are committed. Messages
 *   still in flight when a batch commits (the followers' commit notices) are delivered
 *   together with the next batch, as a real pipeline would.
 * - `sequential`: the same with a batch of 1: one full replication round trip per entry.
 * Payloads are allocated before the clock starts (that is the application's cost).
 *
 * Output: a table of mode, batch, entries, seconds, entries/s, messages delivered per entry
 * and process RSS (MB) after the run, then the RSS at the end and the node version.
 *
 * An entry counts as committed when it appears in the leader's `Ready.committedEntries`.
 * Every node checks that it applies entries at consecutive log indexes and the payloads in
 * proposal order (each payload carries its sequence number), and at the end all three nodes
 * must have applied exactly `--entries` payloads: otherwise the benchmark prints why and
 * exits 1, so it never reports the speed of a broken run.
 *
 * Run it:
 *   node --import=tsx bench/raft-core.ts [--entries N] [--seq-entries N] [--batch N] [--size BYTES] [--warmup N] [--seed S]
 * Defaults: 200,000 entries (batched), 50,000 (sequential), batches of 128, 128-byte
 * payloads, 20,000 warm-up entries, seed 1. Profile with
 *   node --cpu-prof --import=tsx bench/raft-core.ts
 * and open the .cpuprofile in Chrome DevTools (or sum the self time per function).
 * Exit code: 0 on success, 1 when a run is broken, 2 on bad usage.
 */
import { parseBenchFlags } from "./bench-flags.ts";
import { performance } from "node:perf_hooks";
import { MemoryStorage, type Message, type NodeId, RawNode, SeededRng } from "../raft/index.ts";

interface Options {
  entries: number;
  seqEntries: number;
  batch: number;
  size: number;
  warmup: number;
  seed: number;
}

const USAGE =
  "usage: node --import=tsx bench/raft-core.ts [--entries N] [--seq-entries N] [--batch N] [--size BYTES] [--warmup N] [--seed S]";

function parseOptions(argv: string[]): Options {
  const { str, intFlag } = parseBenchFlags({
    program: "raft-core",
    usage: USAGE,
    argv,
    strings: ["entries", "seq-entries", "batch", "size", "warmup", "seed"],
  });
  const entries = intFlag("entries", str("entries"), 200_000, 1);
  return {
    entries,
    seqEntries: intFlag("seq-entries", str("seq-entries"), Math.min(entries, 50_000), 0),
    batch: intFlag("batch", str("batch"), 128, 1),
    // The first 4 bytes carry the sequence number the apply check relies on.
    size: intFlag("size", str("size"), 128, 4),
    warmup: intFlag("warmup", str("warmup"), 20_000, 0),
    seed: intFlag("seed", str("seed"), 1, 0),
  };
}

/** A run that cannot be trusted: reported and turned into exit code 1. */
class BrokenRun extends Error {}

/** One member of the in-process cluster, with its own storage and applied-state cursor. */
class BenchNode {
  readonly raw: RawNode;
  readonly storage: MemoryStorage;
  /** Log index of the last entry applied (entries must arrive at consecutive indexes). */
  appliedIndex: number;
  /** Application payloads applied so far; also the sequence number expected next. */
  applied = 0;

  constructor(
    readonly id: NodeId,
    voters: readonly NodeId[],
    seed: number,
  ) {
    this.storage = new MemoryStorage({ conf: { voters, learners: [] } });
    this.appliedIndex = this.storage.firstIndex() - 1;
    this.raw = new RawNode({ id, storage: this.storage, rng: new SeededRng(seed) });
  }

  /** Handle one Ready per the contract. Outgoing messages go to `outbox`. Returns false when there was none. */
  processReady(outbox: Message[]): boolean {
    const raw = this.raw;
    if (!raw.hasReady()) return false;
    const rd = raw.ready();
    // 1. Persist: snapshot, entries, hard state.
    if (rd.snapshot) {
      // Nothing compacts the log here, so a snapshot would mean a bug (and would skip payloads).
      throw new BrokenRun(`${this.id} was sent a snapshot at index ${rd.snapshot.meta.index}`);
    }
    if (rd.entries.length > 0) this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    // 2. Send.
    for (const m of rd.messages) outbox.push(m);
    // 3. Apply.
    for (const e of rd.committedEntries) {
      if (e.index !== this.appliedIndex + 1) {
        throw new BrokenRun(`${this.id} applied index ${e.index} after ${this.appliedIndex}`);
      }
      this.appliedIndex = e.index;
      if (e.type !== "normal" || e.data.length === 0) continue; // a leader's empty entry
      const d = e.data;
      const seq = (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0;
      if (seq !== this.applied) {
        throw new BrokenRun(
          `${this.id} applied payload #${seq} at index ${e.index}, expected #${this.applied}`,
        );
      }
      this.applied++;
    }
    // 4. Advance.
    raw.advance();
    return true;
  }
}

/** Three nodes and an in-process network that delivers every message, in order, without copying. */
class Cluster {
  readonly nodes: BenchNode[];
  private readonly byId = new Map<NodeId, BenchNode>();
  private queue: Message[] = [];
  private spare: Message[] = [];
  /** Messages delivered (for the report). */
  delivered = 0;

  constructor(seed: number) {
    const ids = ["n1", "n2", "n3"];
    this.nodes = ids.map((id, i) => new BenchNode(id, ids, seed * 7919 + i));
    for (const n of this.nodes) this.byId.set(n.id, n);
  }

  /**
   * Process Readys and deliver messages until `done()` holds (checked after every round of
   * Readys) or nothing is left to do. Messages not yet delivered stay queued for the next call.
   */
  pump(done: () => boolean = () => false): void {
    for (;;) {
      let worked = false;
      for (const n of this.nodes) {
        while (n.processReady(this.queue)) worked = true;
      }
      if (done()) return;
      if (this.queue.length === 0) {
        if (!worked) return;
        continue;
      }
      // Swap buffers: stepping a message may make nodes queue more in the next round.
      const batch = this.queue;
      this.queue = this.spare;
      this.spare = batch;
      for (const m of batch) {
        const to = this.byId.get(m.to);
        if (!to) throw new BrokenRun(`message to unknown node ${m.to}`);
        to.raw.step(m);
      }
      this.delivered += batch.length;
      batch.length = 0;
    }
  }

  /** Tick every node until one is leader and every node knows it, then settle. */
  elect(): BenchNode {
    for (let t = 0; t < 1000; t++) {
      for (const n of this.nodes) n.raw.tick();
      this.pump();
      const leaders = this.nodes.filter((n) => n.raw.status().role === "leader");
      const leader = leaders[0];
      if (leaders.length === 1 && leader && this.nodes.every((n) => n.raw.status().leader === leader.id)) {
        this.pump(); // commit the leader's empty entry everywhere
        return leader;
      }
    }
    throw new BrokenRun("no leader elected within 1000 ticks");
  }
}

/**
 * The payloads of a run, made before the clock starts (allocating typed arrays is the
 * application's cost, not Raft's): views into one slab, each starting with its sequence
 * number (little endian); the rest stays zero, as nothing encodes or hashes it.
 */
function payloads(count: number, size: number): Uint8Array[] {
  const slab = new Uint8Array(count * size);
  const out: Uint8Array[] = new Array(count);
  for (let seq = 0; seq < count; seq++) {
    const d = slab.subarray(seq * size, (seq + 1) * size);
    d[0] = seq & 0xff;
    d[1] = (seq >>> 8) & 0xff;
    d[2] = (seq >>> 16) & 0xff;
    d[3] = (seq >>> 24) & 0xff;
    out[seq] = d;
  }
  return out;
}

interface RunResult {
  mode: string;
  entries: number;
  batch: number;
  seconds: number;
  messages: number;
  rssMB: number;
}

/** Commit `total` entries through a fresh cluster, `batch` proposals per round. */
function run(mode: string, total: number, batch: number, size: number, seed: number): RunResult {
  const cluster = new Cluster(seed);
  const leader = cluster.elect();
  const startMessages = cluster.delivered;
  let proposed = 0;
  const committed = (): boolean => leader.applied >= proposed;
  const data = payloads(total, size);

  const t0 = performance.now();
  while (leader.applied < total) {
    const n = Math.min(batch, total - proposed);
    for (let i = 0; i < n; i++) leader.raw.propose(data[proposed++]!);
    cluster.pump(committed);
    if (!committed()) {
      throw new BrokenRun(`${mode}: the cluster went quiet with ${leader.applied}/${proposed} committed`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;

  // Let the followers learn the last commit index, then check every node applied the same.
  cluster.pump();
  const problems: string[] = [];
  for (const n of cluster.nodes) {
    if (n.applied !== total) problems.push(`${n.id} applied ${n.applied} entries, expected ${total}`);
    if (n.appliedIndex !== leader.appliedIndex) {
      problems.push(
        `${n.id} applied through index ${n.appliedIndex}, the leader through ${leader.appliedIndex}`,
      );
    }
  }
  if (leader.raw.status().role !== "leader") problems.push(`${leader.id} lost leadership during the run`);
  if (problems.length > 0) throw new BrokenRun(`${mode}: ${problems.join("; ")}`);

  return {
    mode,
    entries: total,
    batch,
    seconds,
    messages: cluster.delivered - startMessages,
    rssMB: process.memoryUsage().rss / (1 << 20),
  };
}

function table(rows: RunResult[]): string {
  const header = ["mode", "batch", "entries", "seconds", "entries/s", "msgs/entry", "RSS MB"];
  const body = rows.map((r) => [
    r.mode,
    String(r.batch),
    r.entries.toLocaleString("en-US"),
    r.seconds.toFixed(3),
    Math.round(r.entries / r.seconds).toLocaleString("en-US"),
    (r.messages / r.entries).toFixed(2),
    r.rssMB.toFixed(1),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

function main(): void {
  const opts = parseOptions(process.argv.slice(2));
  process.stdout.write(
    `raft-core bench: node ${process.version}, ${process.platform}/${process.arch}, 3 nodes in-process, ` +
      `${opts.size}-byte entries, seed ${opts.seed}\n`,
  );
  if (opts.warmup > 0) run("warmup", opts.warmup, opts.batch, opts.size, opts.seed);
  const rows: RunResult[] = [run("batched", opts.entries, opts.batch, opts.size, opts.seed)];
  if (opts.seqEntries > 0) rows.push(run("sequential", opts.seqEntries, 1, opts.size, opts.seed));
  process.stdout.write(`${table(rows)}\n`);
  const mem = process.memoryUsage();
  process.stdout.write(
    `process RSS at end: ${(mem.rss / (1 << 20)).toFixed(1)} MB (heap used ${(mem.heapUsed / (1 << 20)).toFixed(1)} MB)\n`,
  );
}

try {
  main();
} catch (e) {
  if (e instanceof BrokenRun) {
    process.stderr.write(`raft-core: BROKEN RUN: ${e.message}\n`);
    process.exit(1);
  }
  throw e;
}
