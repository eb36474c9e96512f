/**
 * The replicated state machine frame: applying the same entries gives the same state, and
 * a snapshot restored into a fresh state machine reproduces all of it (KV, events with
 * their hash chain, members, handler runs), so log compaction loses nothing.
 */
import test from "ava";
import type { Entry } from "../../../raft/index.ts";
import { type Command, encodeCommand } from "../../../src/coordinator/commands.ts";
import { CoordinatorState } from "../../../src/coordinator/state-machine.ts";

let index = 1;
const entry = (c: Command, term = 2): Entry => ({
  term,
  index: ++index,
  type: "normal",
  data: encodeCommand(c),
});
const ev = (type: string, member: string | null, details: Record<string, unknown> = {}): Command =>
  ({
    type: "event",
    event: { time: "2026-11-22T10:00:00.000Z", type, member, service: null, details },
  }) as Command;

function script(): Entry[] {
  index = 1;
  return [
    entry({ type: "kv-put", key: "a", value: "1" }),
    entry(ev("leader-elected", null, { leader: "e1" })),
    entry(
      ev("member-joined", "web1", {
        address: "10.0.0.1:7400",
        services: ["nginx"],
        checks: { http: "passing" },
      }),
    ),
    entry(ev("member-joined", "web2", { address: "10.0.0.2:7400", services: [], checks: {} })),
    entry(ev("member-down", "web2", { silent_ms: 1600 })),
    entry(ev("handler-started", "web2", { event: 6, handler: "dns", attempt: 1 })),
    entry(ev("handler-failed", "web2", { event: 6, handler: "dns", attempt: 1, exit_code: 1 })),
    entry(ev("check-failing", "web1", { check: "http" })),
    entry({ type: "kv-delete", key: "a" }),
    { term: 2, index: ++index, type: "normal", data: new TextEncoder().encode("not json") },
  ];
}

function build(): CoordinatorState {
  const s = new CoordinatorState();
  s.restore(1, new Uint8Array());
  for (const e of script()) s.apply(e);
  return s;
}

test("the member table and handler runs are folded from the committed events", (t) => {
  const s = build();
  t.deepEqual(
    s.members.list().map((m) => [m.name, m.status, m.address, m.checks]),
    [
      ["web1", "up", "10.0.0.1:7400", { http: "failing" }],
      ["web2", "down", "10.0.0.2:7400", {}],
    ],
  );
  t.deepEqual(s.members.counts(), { up: 1, down: 1, drained: 0 });
  t.is(s.handlerRuns.get(6, "dns")?.outcome, "failed");
  t.is(s.handlerRuns.get(6, "dns")?.attempt, 1);
  t.is(s.kv.get("a"), undefined);
  t.is(s.events.size, 7);
});

test("a malformed command is skipped the same way on every elector, not applied", (t) => {
  const s = new CoordinatorState();
  s.restore(1, new Uint8Array());
  const out = s.apply({ term: 2, index: 2, type: "normal", data: new TextEncoder().encode("{}") });
  t.is(out.kind, "rejected");
  t.is(s.applied, 2);
});

test("two state machines fed the same entries agree, and a snapshot restores all of it", (t) => {
  const a = build();
  const b = build();
  t.deepEqual(a.snapshot(), b.snapshot());
  const c = new CoordinatorState();
  c.restore(a.applied, a.snapshot());
  t.deepEqual(c.snapshot(), a.snapshot());
  t.deepEqual(c.members.list(), a.members.list());
  t.is(c.events.head.hash, a.events.head.hash);
  t.deepEqual(c.handlerRuns.snapshot(), a.handlerRuns.snapshot());
  // Applying further entries after a restore continues the same chain.
  const next: Entry = {
    term: 3,
    index: a.applied + 1,
    type: "normal",
    data: encodeCommand(ev("member-up", "web2")),
  };
  a.apply(next);
  c.apply(next);
  t.is(c.events.head.hash, a.events.head.hash);
  t.is(c.members.get("web2")?.status, "up");
});

test("a snapshot whose stored event chain was altered is refused, naming the problem", (t) => {
  const a = build();
  const json = JSON.parse(new TextDecoder().decode(a.snapshot()));
  json.events.events[2].member = "evil";
  const c = new CoordinatorState();
  t.throws(() => c.restore(a.applied, new TextEncoder().encode(JSON.stringify(json))), {
    message: /event log snapshot/,
  });
});
