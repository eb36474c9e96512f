/**
 * Never persist what cannot be loaded, and every limit before a proposal, in the driver loop:
 * three ElectorNodes over memory storage and an in-memory network (as elector-node.test.ts).
 * - a `snap` message whose data would not load is dropped before raft sees it: nothing is
 *   written, the follower keeps its state and goes on committing, and the refusal is logged
 *   once however often the same snapshot comes;
 * - an `app` message carrying a conf entry that breaks conf-change-rules.ts (a 70,000-byte
 *   elector name) is dropped whole; a bad change is refused before it is proposed;
 * - a command past a limit that depends on the state is refused before it is proposed, and
 *   one that passes the edge but is over the limit at apply time rejects alike.
 */
import test from "ava";
import pino from "pino";
import { encodeConfChange, type Message, message, type NodeId, SeededRng } from "../../../raft/index.ts";
import { LimitExceededError } from "../../../src/coordinator/command-limits.ts";
import { CoordinatorState } from "../../../src/coordinator/state-machine.ts";
import type { EventFields } from "../../../src/contract/events.ts";
import { ConfChangeEntryError, ElectorNode, type Ticker } from "../../../src/elector/elector-node.ts";
import type { PeerTransportEvents } from "../../../src/transport/peer-transport.ts";
import { MemoryLogStore } from "../../support/memory-log-store.ts";
import { MemoryNetwork } from "../../support/memory-transport.ts";

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

interface TestNode {
  node: ElectorNode;
  store: MemoryLogStore;
  state: CoordinatorState;
  ticker: ManualTicker;
  /** What the transport delivers to this node: a test may hand it messages of its own. */
  events: PeerTransportEvents;
  lines: Record<string, unknown>[];
}

function cluster() {
  const net = new MemoryNetwork();
  const nodes = new Map<NodeId, TestNode>();
  for (const [i, id] of ids.entries()) {
    const store = new MemoryLogStore({ conf: { voters: ids, learners: [] } });
    const state = new CoordinatorState(founders);
    const ticker = new ManualTicker();
    const lines: Record<string, unknown>[] = [];
    let events: PeerTransportEvents | undefined;
    const node = new ElectorNode({
      id,
      store,
      state,
      transport: (e) => {
        events = e;
        return net.transport(id)(e);
      },
      founders,
      tickMs: 100,
      electionTicks: 10,
      rng: new SeededRng(i + 1),
      logger: pino({ level: "warn" }, { write: (s: string) => void lines.push(JSON.parse(s)) }),
      onFatal: (e) => {
        throw e;
      },
      ticker,
    });
    node.start();
    nodes.set(id, { node, store, state, ticker, events: events!, lines });
  }
  return { net, nodes };
}

const turn = () => new Promise((r) => setImmediate(r));
const turns = async (n = 20) => {
  for (let k = 0; k < n; k++) await turn();
};

/** Let the loops run until `done` holds (each turn delivers and applies what is due). */
async function waitFor(done: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !done(); i++) await turn();
  if (!done()) throw new Error("the condition never held");
}

async function tickUntilLeader(c: ReturnType<typeof cluster>): Promise<ElectorNode> {
  for (let i = 0; i < 200; i++) {
    for (const n of c.nodes.values()) n.ticker.tick();
    await turns(10);
    const leader = [...c.nodes.values()].find((n) => n.node.status().role === "leader");
    if (leader) return leader.node;
  }
  throw new Error("no leader elected");
}

async function stopAll(c: ReturnType<typeof cluster>): Promise<void> {
  for (const { node } of c.nodes.values()) await node.stop();
}

function follower(c: ReturnType<typeof cluster>, leader: ElectorNode): TestNode {
  return [...c.nodes.values()].find((n) => n.node.id !== leader.id)!;
}

test("a snapshot that would not load is dropped before raft: not persisted, logged once, the follower goes on", async (t) => {
  const c = cluster();
  const leader = await tickUntilLeader(c);
  await leader.propose({ type: "kv-put", key: "before", value: "1" });
  await turns();
  const f = follower(c, leader);
  const before = { snap: f.store.snapshot().meta.index, last: f.store.lastIndex() };
  const status = leader.status();
  const bad: Message = {
    ...message({ type: "snap", from: leader.id, to: f.node.id, term: status.term }),
    snapshot: {
      meta: { index: status.commit + 1000, term: status.term, conf: { voters: ids, learners: [] } },
      data: new TextEncoder().encode("this is not JSON"),
    },
  };
  f.events.onMessage(bad);
  f.events.onMessage(bad);
  // A later event: the follower takes the leader's next entry. Had raft taken the snapshot,
  // it would have been persisted (and restored) by then.
  const after = await leader.propose({ type: "kv-put", key: "after", value: "2" });
  t.is(after.kind, "result");
  await waitFor(() => f.state.kv.get("after")?.value === "2");
  t.is(f.store.snapshot().meta.index, before.snap, "no snapshot written");
  t.is(f.store.lastIndex(), before.last + 1, "only the leader's entry was appended");
  t.true(f.state.applied < status.commit + 1000);
  t.is(f.state.kv.get("before")?.value, "1", "the old state is kept");
  const refused = f.lines.filter((l) => String(l.msg).startsWith("refused a snapshot from a peer"));
  t.is(refused.length, 1, "logged once for the same snapshot");
  t.is(refused[0]!.reason, `snapshot at ${status.commit + 1000} is not valid JSON`);
  await stopAll(c);
});

test("an append carrying a conf entry with a 70,000-byte elector name is dropped whole; such a change is never proposed", async (t) => {
  const c = cluster();
  const leader = await tickUntilLeader(c);
  await leader.propose({ type: "kv-put", key: "k", value: "v" });
  await turns();
  const f = follower(c, leader);
  const s = leader.status();
  const last = f.store.lastIndex();
  const cc = { type: "add-learner" as const, node: "x".repeat(70_000), context: "127.0.0.1:7999" };
  f.events.onMessage(
    message({
      type: "app",
      from: leader.id,
      to: f.node.id,
      term: s.term,
      logTerm: s.term,
      index: last,
      commit: s.commit,
      entries: [
        { index: last + 1, term: s.term, type: "normal", data: new Uint8Array() },
        { index: last + 2, term: s.term, type: "conf", data: encodeConfChange(cc) },
      ],
    }),
  );
  // A later event: the leader's next entry reaches the follower at index last + 1.
  await leader.propose({ type: "kv-put", key: "k2", value: "v2" });
  await waitFor(() => f.state.kv.get("k2")?.value === "v2");
  t.is(f.store.lastIndex(), last + 1, "neither injected entry appended");
  t.is(f.store.entries(last + 1, last + 2, Infinity)[0]!.type, "normal");
  t.deepEqual(f.node.status().conf, { voters: ids, learners: [] });
  const refused = f.lines.filter((l) => String(l.msg).startsWith("refused entries from a peer"));
  t.is(refused.length, 1);
  t.regex(
    String(refused[0]!.reason),
    /^entry \d+: conf change: "x{80}"\.\.\. \(70000 characters\) is not a valid elector name/,
  );

  t.throws(() => leader.proposeConfChange(cc), {
    instanceOf: ConfChangeEntryError,
    message: /is not a valid elector name/,
  });
  t.throws(() => leader.proposeConfChange({ type: "add-learner", node: "d", context: "h".repeat(300) }), {
    instanceOf: ConfChangeEntryError,
    message: /the address of d is longer than 260 bytes/,
  });
  t.deepEqual(leader.status().conf, { voters: ids, learners: [] });
  await stopAll(c);
});

const event = (fields: Omit<EventFields, "time">): { type: "event"; event: EventFields } => ({
  type: "event",
  event: { time: "2026-12-08T00:00:00.000Z", ...fields },
});

test("a command past a state limit is refused before it is proposed, and rejects alike when the limit is reached at apply time", async (t) => {
  const c = cluster();
  const leader = await tickUntilLeader(c);
  const checks = Object.fromEntries(Array.from({ length: 63 }, (_, i) => [`c${i}`, "passing"]));
  await leader.propose(
    event({
      type: "member-joined",
      member: "m1",
      service: null,
      details: { address: "10.0.0.9:7001", services: [], checks },
    }),
  );
  const failing = (check: string) =>
    event({ type: "check-failing", member: "m1", service: null, details: { check } });
  // Both pass the edge (63 checks applied), the second is the 65th at apply time.
  const first = leader.propose(failing("new-1"));
  const second = leader.propose(failing("new-2"));
  const ok = await first;
  t.is(ok.kind, "result");
  const err = await t.throwsAsync(second, { instanceOf: LimitExceededError });
  t.is(err?.limit, "checks-per-member");
  t.regex(err?.message ?? "", /m1 already has 64 checks, the most a member may have/);
  const lastBefore = leader.status().lastIndex;
  // Now the state says 64: refused at once, nothing proposed.
  const now = t.throws(() => leader.propose(failing("new-3")), { instanceOf: LimitExceededError });
  t.is(now?.limit, "checks-per-member");
  t.is(leader.status().lastIndex, lastBefore, "nothing was proposed");
  await turns();
  for (const n of c.nodes.values()) t.is(Object.keys(n.state.members.get("m1")!.checks).length, 64);
  await stopAll(c);
});
