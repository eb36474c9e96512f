/**
 * Which electors a node calls reachable (control-node.ts, `reachability` and
 * `electorStatuses`): first the rule itself over hand-made contact records, then on three
 * real ElectorNodes over an in-memory network and a clock the test moves. A follower reports
 * the leader it hears from and calls the other follower unknown (never unreachable); only the
 * leader reports match indexes and calls a silent peer unreachable, and only once it has led
 * for a whole election timeout; Raft's recentActive, cleared at each quorum check, does not
 * make a healthy peer flap.
 */
import test from "ava";
import pino from "pino";
import { type NodeId, SeededRng } from "../../../raft/index.ts";
import { electorStatuses, reachability } from "../../../src/control/control-node.ts";
import { ElectorNode, type PeerContact, type Ticker } from "../../../src/elector/elector-node.ts";
import { CoordinatorState } from "../../../src/coordinator/state-machine.ts";
import { MemoryLogStore } from "../../support/memory-log-store.ts";
import { MemoryNetwork } from "../../support/memory-transport.ts";

const WINDOW = 1000;

function contact(heard: Record<string, number>, leadingForMs: number | null): PeerContact {
  return { sinceHeardMs: new Map(Object.entries(heard)), leadingForMs, electionTimeoutMs: WINDOW };
}

test("heard within one election timeout is reachable, on any node", (t) => {
  for (const leading of [null, 0, 5 * WINDOW]) {
    t.true(reachability(contact({ b: 0 }, leading), "b"));
    t.true(reachability(contact({ b: WINDOW }, leading), "b"), "the window's edge is still within it");
  }
});

test("a node that does not lead calls a peer it has not heard from lately unknown, never unreachable", (t) => {
  t.is(reachability(contact({ b: WINDOW + 1 }, null), "b"), null);
  t.is(reachability(contact({}, null), "b"), null, "never heard from");
});

test("the leader calls a silent peer unreachable once it has led a whole window, unknown before", (t) => {
  t.is(reachability(contact({ b: WINDOW + 1 }, WINDOW), "b"), false);
  t.is(reachability(contact({}, WINDOW), "b"), false, "never heard from");
  // Just elected (or just restarted and elected): it has not waited long enough to know.
  t.is(reachability(contact({}, 0), "b"), null);
  t.is(reachability(contact({ b: 3 * WINDOW }, WINDOW - 1), "b"), null);
});

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

const TICK_MS = 100;
const ELECTION_TICKS = 10;
const ids = ["a", "b", "c"];
const founders = new Map(ids.map((id, i) => [id, `127.0.0.1:${7400 + i}`]));
const turn = () => new Promise((r) => setImmediate(r));

/** Three electors on one fake clock: each `step` moves it one tick and delivers what was sent. */
function cluster() {
  const net = new MemoryNetwork();
  const clock = { ms: 0 };
  const nodes = new Map<NodeId, { node: ElectorNode; ticker: ManualTicker }>();
  for (const [i, id] of ids.entries()) {
    const ticker = new ManualTicker();
    const node = new ElectorNode({
      id,
      store: new MemoryLogStore({ conf: { voters: ids, learners: [] } }),
      state: new CoordinatorState(founders),
      transport: net.transport(id),
      founders,
      tickMs: TICK_MS,
      electionTicks: ELECTION_TICKS,
      rng: new SeededRng(i + 1),
      logger: pino({ level: "silent" }),
      onFatal: (e) => {
        throw e;
      },
      ticker,
      now: () => clock.ms,
    });
    node.start();
    nodes.set(id, { node, ticker });
  }
  const step = async () => {
    clock.ms += TICK_MS;
    for (const [id, n] of nodes) if (!net.down.has(id)) n.ticker.tick();
    for (let k = 0; k < 10; k++) await turn();
  };
  const leader = () => [...nodes.values()].find((n) => n.node.status().role === "leader")?.node;
  return { net, clock, nodes, step, leader };
}

const view = (node: ElectorNode) =>
  Object.fromEntries(electorStatuses(node).map((e) => [e.name, [e.match, e.reachable]]));

test("three electors: the leader sees every peer reachable with its match, a follower the leader only; a cut follower turns unreachable on the leader only after a window", async (t) => {
  const c = cluster();
  for (let i = 0; i < 200 && !c.leader(); i++) await c.step();
  const leader = c.leader();
  if (!leader) return t.fail("no leader elected");
  t.teardown(async () => {
    for (const { node } of c.nodes.values()) await node.stop();
  });
  await leader.propose({ type: "kv-put", key: "k", value: "v" });
  // Long enough for the votes of the election to be older than a window.
  for (let i = 0; i < 3 * ELECTION_TICKS; i++) await c.step();

  const [f1, f2] = ids.filter((id) => id !== leader.id);
  const last = leader.status().lastIndex;
  t.deepEqual(view(leader), {
    [leader.id]: [last, true],
    [f1!]: [last, true],
    [f2!]: [last, true],
  });
  const follower = c.nodes.get(f1!)!.node;
  t.deepEqual(view(follower), {
    [leader.id]: [null, true],
    [f1!]: [null, true],
    [f2!]: [null, null],
  });

  // Cut f2 off: the leader keeps calling it reachable for one window, then unreachable.
  c.net.down.add(f2!);
  const cutAt = c.clock.ms;
  const seen: (boolean | null)[] = [];
  while (c.clock.ms - cutAt <= WINDOW + 2 * TICK_MS) {
    await c.step();
    const r = electorStatuses(leader).find((e) => e.name === f2)!.reachable;
    if (seen.at(-1) !== r) seen.push(r);
  }
  t.deepEqual(seen, [true, false], "true, then false once the window has passed: no flapping");
  t.is(electorStatuses(leader).find((e) => e.name === f1)!.reachable, true);
});

test("Raft's recentActive, cleared at each quorum check, does not make a healthy peer unreachable", async (t) => {
  const c = cluster();
  for (let i = 0; i < 200 && !c.leader(); i++) await c.step();
  const leader = c.leader();
  if (!leader) return t.fail("no leader elected");
  t.teardown(async () => {
    for (const { node } of c.nodes.values()) await node.stop();
  });
  const lt = c.nodes.get(leader.id)!.ticker;
  // Tick the leader alone, synchronously, until a quorum check has just cleared the marks:
  // the peers' answers to that tick's heartbeat have not arrived yet.
  let cleared: string[] = [];
  for (let i = 0; i < 2 * ELECTION_TICKS && cleared.length === 0; i++) {
    c.clock.ms += TICK_MS;
    lt.tick();
    cleared = [...leader.status().progress]
      .filter(([id, p]) => id !== leader.id && !p.recentActive)
      .map(([id]) => id);
    if (cleared.length === 0) for (let k = 0; k < 10; k++) await turn();
  }
  t.deepEqual(cleared.sort(), ids.filter((id) => id !== leader.id).sort(), "the check cleared both marks");
  for (const id of cleared) t.is(electorStatuses(leader).find((e) => e.name === id)!.reachable, true, id);
});
