/**
 * The driver loop in one process: three ElectorNodes over memory storage and an in-memory
 * network elect a leader, replicate KV writes, serve linearizable reads on a follower,
 * group-commit proposals, compact, and bring a lagging node back through a snapshot.
 */
import test from "ava";
import pino from "pino";
import { type NodeId, NotLeaderError, SeededRng } from "../../../raft/index.ts";
import { ElectorNode, type Ticker } from "../../../src/elector/elector-node.ts";
import type { PersistBatch } from "../../../src/storage/log-store.ts";
import { CoordinatorState } from "../../../src/coordinator/state-machine.ts";
import { MemoryLogStore } from "../../support/memory-log-store.ts";
import { MemoryNetwork } from "../../support/memory-transport.ts";

/** A ticker the test drives by hand. */
class ManualTicker implements Ticker {
  private fn: (() => void) | undefined;
  start(_ms: number, tick: () => void) {
    this.fn = tick;
  }
  stop() {
    this.fn = undefined;
  }
  tick() {
    this.fn?.();
  }
}

const ids = ["a", "b", "c"];
const founders = new Map(ids.map((id, i) => [id, `127.0.0.1:${7400 + i}`]));

function cluster(
  snapshotEntries = 10_000,
  o: { store?: (id: NodeId) => MemoryLogStore; onFatal?: (e: Error) => void } = {},
) {
  const net = new MemoryNetwork();
  const nodes = new Map<
    NodeId,
    { node: ElectorNode; store: MemoryLogStore; state: CoordinatorState; ticker: ManualTicker }
  >();
  for (const [i, id] of ids.entries()) {
    const store = o.store?.(id) ?? new MemoryLogStore({ conf: { voters: ids, learners: [] } });
    const state = new CoordinatorState(founders);
    const ticker = new ManualTicker();
    const node = new ElectorNode({
      id,
      store,
      state,
      transport: net.transport(id),
      founders,
      tickMs: 100,
      electionTicks: 10,
      rng: new SeededRng(i + 1),
      logger: pino({ level: "silent" }),
      snapshotEntries,
      onFatal:
        o.onFatal ??
        ((e) => {
          throw e;
        }),
      ticker,
    });
    node.start();
    nodes.set(id, { node, store, state, ticker });
  }
  return { net, nodes };
}

const turn = () => new Promise((r) => setImmediate(r));

async function tickUntilLeader(c: ReturnType<typeof cluster>): Promise<ElectorNode> {
  for (let i = 0; i < 200; i++) {
    for (const n of c.nodes.values()) if (!c.net.down.has(n.node.id)) n.ticker.tick();
    for (let k = 0; k < 10; k++) await turn();
    const leader = [...c.nodes.values()].find(
      (n) => !c.net.down.has(n.node.id) && n.node.status().role === "leader",
    );
    if (leader) return leader.node;
  }
  throw new Error("no leader elected");
}

test("three electors elect a leader and replicate KV writes to every state machine", async (t) => {
  const c = cluster();
  const leader = await tickUntilLeader(c);
  const out = await leader.propose({ type: "kv-put", key: "site/title", value: "hello" });
  t.is(out.kind, "result");
  for (let k = 0; k < 20; k++) await turn();
  for (const { state } of c.nodes.values()) t.is(state.kv.get("site/title")?.value, "hello");
  for (const { node } of c.nodes.values()) await node.stop();
});

test("a proposal on a follower is refused with NotLeaderError naming the leader", async (t) => {
  const c = cluster();
  const leader = await tickUntilLeader(c);
  for (let k = 0; k < 20; k++) await turn();
  const follower = [...c.nodes.values()].find((n) => n.node.id !== leader.id)!.node;
  const err = t.throws(() => follower.propose({ type: "kv-put", key: "k", value: "v" }), {
    instanceOf: NotLeaderError,
  });
  t.is(err?.leader, leader.id);
  for (const { node } of c.nodes.values()) await node.stop();
});

test("proposals made while a write is in flight share the next fsync (group commit)", async (t) => {
  const c = cluster();
  const leader = await tickUntilLeader(c);
  const store = c.nodes.get(leader.id)!.store;
  const before = store.writes;
  const n = 200;
  await Promise.all(
    Array.from({ length: n }, (_, i) => leader.propose({ type: "kv-put", key: `k${i}`, value: `${i}` })),
  );
  const writes = store.writes - before;
  t.true(writes < n / 4, `${writes} leader writes for ${n} proposals`);
  t.is(c.nodes.get(leader.id)!.state.kv.list("k").length, n);
  for (const { node } of c.nodes.values()) await node.stop();
});

/**
 * A store whose writes without fsync (a Ready that only moves the commit index) never finish,
 * or fail: the driver must not wait for them, and must stop when one fails.
 */
class UnsyncedWritesStore extends MemoryLogStore {
  held = 0;
  constructor(private readonly unsynced: "hang" | "fail") {
    super({ conf: { voters: ids, learners: [] } });
  }
  override persist(batch: PersistBatch): Promise<void> {
    if (batch.sync !== false) return super.persist(batch);
    this.held++;
    return this.unsynced === "hang" ? new Promise(() => {}) : Promise.reject(new Error("disk gone"));
  }
}

test("a Ready that only moves the commit index is not waited for; its failure stops the node", async (t) => {
  const hanging = cluster(10_000, { store: () => new UnsyncedWritesStore("hang") });
  const leader = await tickUntilLeader(hanging);
  const store = hanging.nodes.get(leader.id)!.store as UnsyncedWritesStore;
  for (let i = 0; i < 5; i++) await leader.propose({ type: "kv-put", key: `k${i}`, value: `${i}` });
  t.true(store.held > 0, "commit-only writes were issued");
  t.is(hanging.nodes.get(leader.id)!.state.kv.list("k").length, 5, "and applying went on without them");
  for (const { node } of hanging.nodes.values()) await node.stop();

  const fatal: Error[] = [];
  const failing = cluster(10_000, {
    store: () => new UnsyncedWritesStore("fail"),
    onFatal: (e) => fatal.push(e),
  });
  await tickUntilLeader(failing).catch(() => undefined);
  for (let i = 0; i < 20 && fatal.length === 0; i++) await turn();
  t.true(fatal.length > 0, "a failed unsynced write is fatal");
  t.regex(fatal[0]!.message, /disk gone/);
});

test("a linearizable read on a follower sees a write acknowledged before it", async (t) => {
  const c = cluster();
  const leader = await tickUntilLeader(c);
  const follower = [...c.nodes.values()].find((n) => n.node.id !== leader.id)!;
  await leader.propose({ type: "kv-put", key: "x", value: "1" });
  await follower.node.linearizableBarrier(5000);
  t.is(follower.state.kv.get("x")?.value, "1");
  for (const { node } of c.nodes.values()) await node.stop();
});

test("a follower that was down while the log was compacted catches up through a snapshot", async (t) => {
  const c = cluster(50);
  const leader = await tickUntilLeader(c);
  const lagging = [...c.nodes.values()].find((n) => n.node.id !== leader.id)!;
  c.net.down.add(lagging.node.id);
  for (let i = 0; i < 120; i++) await leader.propose({ type: "kv-put", key: `k${i}`, value: `${i}` });
  t.true(c.nodes.get(leader.id)!.store.firstIndex() > 2, "the leader compacted its log");
  c.net.down.delete(lagging.node.id);
  for (let i = 0; i < 100 && lagging.state.kv.list("k").length < 120; i++) {
    for (const n of c.nodes.values()) n.ticker.tick();
    for (let k = 0; k < 10; k++) await turn();
  }
  t.is(lagging.state.kv.list("k").length, 120);
  t.true(lagging.store.snapshot().meta.index > 2, "the lagging node installed a snapshot");
  for (const { node } of c.nodes.values()) await node.stop();
});
