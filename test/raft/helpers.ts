/**
 * Shared test helpers for the Raft core: nodes with a MemoryStorage each, an in-memory
 * cluster with a manual FIFO message queue that tests can filter, drop, take from or rewrite,
 * and a Ready handler that follows the documented order exactly:
 *
 *   1. persist the snapshot, then the entries, then the hard state into the MemoryStorage;
 *   2. then collect (send) the messages;
 *   3. then record (apply) the committed entries and read states;
 *   4. then call advance().
 *
 * Every message is recorded together with what was on "disk" when it was sent, so tests can
 * check that the state a message depends on was persisted first.
 */
import {
  type ConfState,
  type Entry,
  type EntryType,
  type HardState,
  MemoryStorage,
  type Message,
  message,
  type NodeId,
  type RaftOptions,
  type RaftStatus,
  RawNode,
  type ReadState,
  type Ready,
  SeededRng,
  type Snapshot,
} from "../../raft/index.ts";

/** Raft options a test may tune (everything except identity, storage and randomness). */
export type Tuning = Partial<Omit<RaftOptions, "id" | "storage" | "rng">>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** UTF-8 bytes of `s`. */
export function enc(s: string): Uint8Array {
  return encoder.encode(s);
}

/** `d` decoded as UTF-8. */
export function dec(d: Uint8Array): string {
  return decoder.decode(d);
}

/** A log entry; the default data names its position so that logs are easy to compare. */
export function ent(
  index: number,
  term: number,
  data = `i${index}t${term}`,
  type: EntryType = "normal",
): Entry {
  return { index, term, type, data: enc(data) };
}

/** A message with every unused field zeroed. */
export const msg = message;

/** How to build one node's storage. */
export interface NodeSetup {
  /** Founding voters (ignored with `empty`). */
  voters?: readonly NodeId[];
  /** Founding learners. */
  learners?: readonly NodeId[];
  /** A node that joins later: empty storage, no configuration. */
  empty?: boolean;
  /** Terms of pre-existing log entries at indexes 2, 3, ... (index 1 is the bootstrap snapshot). */
  log?: readonly number[];
  /** Persisted hard state; term defaults to max(1, last log term). */
  term?: number;
  vote?: NodeId;
  commit?: number;
  tuning?: Tuning;
  seed?: number;
}

/** A MemoryStorage prepared from `setup`. */
export function makeStorage(setup: NodeSetup): MemoryStorage {
  if (setup.empty) return new MemoryStorage();
  const conf: ConfState = {
    voters: [...(setup.voters ?? [])].sort(),
    learners: [...(setup.learners ?? [])].sort(),
  };
  const storage = new MemoryStorage({ conf });
  const terms = setup.log ?? [];
  storage.append(terms.map((t, i) => ent(i + 2, t)));
  const lastTerm = terms.length > 0 ? terms[terms.length - 1]! : 1;
  storage.setHardState({
    term: setup.term ?? Math.max(1, lastTerm),
    vote: setup.vote ?? "",
    commit: setup.commit ?? 1,
  });
  return storage;
}

/** A message together with what was persisted when it was sent. */
export interface SentRecord {
  readonly message: Message;
  readonly hardState: HardState;
  readonly lastIndex: number;
  readonly lastTerm: number;
}

/** One node: its durable MemoryStorage, its RawNode and what the application saw. */
export class TestNode {
  raw: RawNode;
  /** Stopped nodes neither tick, nor process Readies, nor receive messages. */
  running = true;
  /** Committed entries handed to the application, in order (reset by a restart). */
  applied: Entry[] = [];
  /** Read states handed to the application (reset by a restart). */
  readStates: ReadState[] = [];
  /** Every Ready processed (reset by a restart). */
  readies: Ready[] = [];
  /** Snapshots received through a Ready (reset by a restart). */
  snapshots: Snapshot[] = [];
  /** Messages sent and not yet collected by a cluster. */
  outbox: Message[] = [];
  /** Every message sent, with the persisted state at that moment (kept across restarts). */
  readonly sent: SentRecord[] = [];
  private lives = 1;

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryStorage,
    private readonly tuning: Tuning = {},
    private readonly seed = 1,
  ) {
    this.raw = this.newRaw();
  }

  private newRaw(extra: Tuning = {}): RawNode {
    return new RawNode({
      id: this.id,
      storage: this.storage,
      rng: new SeededRng(this.seed * 1000 + this.lives),
      electionTick: 10,
      heartbeatTick: 1,
      ...this.tuning,
      ...extra,
    });
  }

  /** Crash and restart from what is in the MemoryStorage. */
  restart(extra: Tuning = {}): void {
    this.lives++;
    this.raw = this.newRaw(extra);
    this.running = true;
    this.applied = [];
    this.readStates = [];
    this.readies = [];
    this.snapshots = [];
    this.outbox = [];
  }

  status(): RaftStatus {
    return this.raw.status();
  }
  get term(): number {
    return this.status().term;
  }
  get role(): RaftStatus["role"] {
    return this.status().role;
  }
  get leader(): NodeId | null {
    return this.status().leader;
  }
  get vote(): NodeId {
    return this.status().vote;
  }
  get commit(): number {
    return this.status().commit;
  }

  step(m: Message): void {
    this.raw.step(m);
  }

  tick(n = 1): void {
    for (let i = 0; i < n; i++) this.raw.tick();
  }

  /** Process one Ready in the documented order; undefined when there was none. */
  processReady(): Ready | undefined {
    if (!this.raw.hasReady()) return undefined;
    const rd = this.raw.ready();
    // 1. persist: snapshot, entries, hard state
    if (rd.snapshot) {
      this.storage.applySnapshot(rd.snapshot);
      this.snapshots.push(rd.snapshot);
    }
    this.storage.append(rd.entries);
    if (rd.hardState) this.storage.setHardState(rd.hardState);
    // 2. send
    const last = this.storage.lastIndex();
    for (const m of rd.messages) {
      this.sent.push({
        message: m,
        hardState: this.storage.hardState(),
        lastIndex: last,
        lastTerm: this.storage.term(last),
      });
      this.outbox.push(m);
    }
    // 3. apply
    this.applied.push(...rd.committedEntries);
    this.readStates.push(...rd.readStates);
    this.readies.push(rd);
    // 4. advance
    this.raw.advance();
    return rd;
  }

  /** Process every pending Ready; returns (and clears) the messages sent. */
  drain(): Message[] {
    while (this.processReady()) {}
    const out = this.outbox;
    this.outbox = [];
    return out;
  }

  /** The persisted log (entries after the snapshot). */
  log(): Entry[] {
    const first = this.storage.firstIndex();
    const last = this.storage.lastIndex();
    return last >= first ? this.storage.entries(first, last + 1, Number.POSITIVE_INFINITY) : [];
  }

  /** `index:term` of every persisted entry, for compact comparisons. */
  logIds(): string[] {
    return this.log().map((e) => `${e.index}:${e.term}`);
  }

  /** Data of the applied normal entries that carry data (leader no-ops are skipped). */
  appliedData(): string[] {
    return this.applied.filter((e) => e.type === "normal" && e.data.length > 0).map((e) => dec(e.data));
  }
}

/** A single node built from `setup`. */
export function newNode(id: NodeId, setup: NodeSetup): TestNode {
  return new TestNode(id, makeStorage(setup), setup.tuning ?? {}, setup.seed ?? 1);
}

/** How to build a cluster. */
export interface ClusterSetup {
  voters: readonly NodeId[];
  learners?: readonly NodeId[];
  /** Nodes that exist but start with an empty storage (they join through a conf change). */
  joiners?: readonly NodeId[];
  tuning?: Tuning;
  /** Per-node overrides (log, term, vote, commit, tuning). */
  perNode?: Readonly<Record<NodeId, Partial<NodeSetup>>>;
  seed?: number;
}

/** A predicate over messages; returning true drops the message. */
export type Filter = (m: Message) => boolean;

/** An in-memory cluster with a manual message queue. */
export class Cluster {
  readonly nodes = new Map<NodeId, TestNode>();
  /** Messages sent and not yet delivered (FIFO). */
  queue: Message[] = [];
  /** Messages stepped into their target, in delivery order. */
  readonly delivered: Message[] = [];
  /** Messages dropped by a filter or because their target was stopped or unknown. */
  readonly dropped: Message[] = [];
  /** Every message that left the queue (delivered or dropped), in order. */
  readonly traffic: Message[] = [];
  private readonly filters = new Set<Filter>();

  constructor(setup: ClusterSetup) {
    const seed = setup.seed ?? 1;
    let k = 0;
    for (const id of [...setup.voters, ...(setup.learners ?? [])]) {
      const over = setup.perNode?.[id] ?? {};
      this.nodes.set(
        id,
        newNode(id, {
          voters: setup.voters,
          learners: setup.learners ?? [],
          ...over,
          tuning: { ...setup.tuning, ...over.tuning },
          seed: seed * 100 + k++,
        }),
      );
    }
    for (const id of setup.joiners ?? []) {
      const over = setup.perNode?.[id] ?? {};
      this.nodes.set(
        id,
        newNode(id, { empty: true, tuning: { ...setup.tuning, ...over.tuning }, seed: seed * 100 + k++ }),
      );
    }
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  get ids(): NodeId[] {
    return [...this.nodes.keys()];
  }

  /** Drop every message matching `f` until the returned function is called (or heal()). */
  dropIf(f: Filter): () => void {
    this.filters.add(f);
    return () => {
      this.filters.delete(f);
    };
  }

  /** Cut `id` off from everyone (both directions). */
  isolate(id: NodeId): () => void {
    return this.dropIf((m) => m.from === id || m.to === id);
  }

  /** Remove every filter. */
  heal(): void {
    this.filters.clear();
  }

  stop(id: NodeId): void {
    this.node(id).running = false;
  }

  restart(id: NodeId, extra: Tuning = {}): void {
    this.node(id).restart(extra);
  }

  /** Process every running node's Readies until none has one; collect their messages. */
  flush(): void {
    for (let round = 0; ; round++) {
      if (round > 10_000) throw new Error("flush did not settle");
      let any = false;
      for (const n of this.nodes.values()) {
        if (!n.running) continue;
        while (n.processReady()) any = true;
        this.queue.push(...n.outbox);
        n.outbox = [];
      }
      if (!any) return;
    }
  }

  /** Step `m` into its target now, unless a filter drops it or the target is down. Returns whether it was delivered. */
  deliver(m: Message): boolean {
    this.traffic.push(m);
    const target = this.nodes.get(m.to);
    if (!target?.running || [...this.filters].some((f) => f(m))) {
      this.dropped.push(m);
      return false;
    }
    target.step(m);
    this.delivered.push(m);
    return true;
  }

  /** Deliver every message now queued (messages they cause are queued behind). */
  deliverAll(): number {
    const batch = this.queue;
    this.queue = [];
    for (const m of batch) this.deliver(m);
    return batch.length;
  }

  /** Remove and return the queued messages matching `f`. */
  take(f: (m: Message) => boolean = () => true): Message[] {
    const out = this.queue.filter(f);
    this.queue = this.queue.filter((m) => !f(m));
    return out;
  }

  /** Flush and deliver until nothing is left to do. */
  stabilize(limit = 10_000): void {
    for (let i = 0; i < limit; i++) {
      this.flush();
      if (this.queue.length === 0) return;
      this.deliverAll();
    }
    throw new Error("cluster did not stabilize");
  }

  /** Tick every running node (or those given) `n` times, stabilizing after each tick. */
  tick(n = 1, ids: readonly NodeId[] = this.ids): void {
    for (let i = 0; i < n; i++) {
      for (const id of ids) {
        const node = this.node(id);
        if (node.running) node.tick();
      }
      this.stabilize();
    }
  }

  /** Make `id` campaign and stabilize; throws unless it became the leader. */
  elect(id: NodeId): TestNode {
    const n = this.node(id);
    n.raw.campaign();
    this.stabilize();
    if (n.role !== "leader") throw new Error(`${id} did not become leader (role ${n.role}, term ${n.term})`);
    return n;
  }

  /** Propose `data` on `id` (which must be the leader) and stabilize. */
  propose(id: NodeId, data: string): { index: number; term: number } {
    const r = this.node(id).raw.propose(enc(data));
    this.stabilize();
    return r;
  }

  /** Running nodes that believe they are the leader. */
  leaders(): TestNode[] {
    return [...this.nodes.values()].filter((n) => n.running && n.role === "leader");
  }
}

/** Messages of type `type` (optionally to `to`) among `ms`. */
export function ofType(ms: readonly Message[], type: Message["type"], to?: NodeId): Message[] {
  return ms.filter((m) => m.type === type && (to === undefined || m.to === to));
}
