/**
 * The replicated state machine frame: applying the same entries gives the same state, and
 * a snapshot restored into a fresh state machine reproduces all of it (KV, events with
 * their hash chain, members, handler runs), so log compaction loses nothing.
 */
import test from "ava";
import type { Entry } from "../../../raft/index.ts";
import { type Command, encodeCommand } from "../../../src/coordinator/commands.ts";
import { CoordinatorState } from "../../../src/coordinator/state-machine.ts";
import { MEMBERS_MAX } from "../../../src/contract/limits.ts";
import { memberView } from "../../../src/coordinator/member-view.ts";

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

/** `s`'s snapshot with its members section replaced by `members` (as old code wrote them). */
function withMembers(s: CoordinatorState, members: unknown[]): Uint8Array {
  const json = JSON.parse(new TextDecoder().decode(s.snapshot()));
  json.members = members;
  return new TextEncoder().encode(JSON.stringify(json));
}

test("maintenance survives down/up and leave/rejoin; status is derived from health and maintenance", (t) => {
  const s = build();
  const step = (c: Command) =>
    s.apply({ term: 2, index: s.applied + 1, type: "normal", data: encodeCommand(c) });
  const status = () => s.members.get("web1")?.status;
  step(ev("member-drained", "web1"));
  t.is(status(), "drained");
  t.deepEqual(s.members.counts(), { up: 0, down: 1, drained: 1 });
  step(ev("member-down", "web1"));
  t.is(status(), "down");
  step(ev("member-up", "web1"));
  t.is(status(), "drained");
  step(ev("member-left", "web1"));
  t.is(status(), "left");
  step(ev("member-joined", "web1", { address: "10.0.0.1:7400", services: [], checks: {} }));
  t.is(status(), "drained");
  step(ev("member-undrained", "web1"));
  t.is(status(), "up");
  // Draining a member that is down keeps it down, and it comes back drained.
  step(ev("member-drained", "web2"));
  t.is(s.members.get("web2")?.status, "down");
  step(ev("member-up", "web2"));
  t.is(s.members.get("web2")?.status, "drained");
  // The stored record holds health and maintenance once each, never the derived status.
  const stored = JSON.parse(new TextDecoder().decode(s.snapshot())).members;
  t.deepEqual(
    stored.map((m: Record<string, unknown>) => [
      m.name,
      m.health,
      m.maintenance,
      "status" in m,
      "drained" in m,
    ]),
    [
      ["web1", "up", false, false, false],
      ["web2", "up", true, false, false],
    ],
  );
});

test("a snapshot in the old member shape (status + drained) restores to the same derived status", (t) => {
  const a = build();
  const old = (name: string, status: string, drained?: boolean) => ({
    name,
    address: `${name}:7400`,
    status,
    services: ["nginx"],
    checks: { http: "passing" },
    ...(drained === undefined ? {} : { drained }),
    since: 3,
  });
  const oldMembers = [
    old("a-drained", "drained", true),
    old("b-down-drained", "down", true),
    old("c-left-drained", "left", true),
    old("d-up", "up", false),
    old("e-down", "down"),
    old("f-drained-no-flag", "drained"),
  ];
  const c = new CoordinatorState();
  c.restore(a.applied, withMembers(a, oldMembers));
  t.deepEqual(
    c.members.list().map((m) => [m.name, m.status]),
    oldMembers.map((m) => [m.name, m.status]),
  );
  t.deepEqual(c.members.counts(), { up: 1, down: 2, drained: 2 });
  // Every elector restoring the old snapshot derives the same, and writes the same new shape.
  const d = new CoordinatorState();
  d.restore(a.applied, withMembers(a, oldMembers));
  t.deepEqual(d.snapshot(), c.snapshot());
  // The maintenance flag carried over: a drained member that was down comes back drained.
  const up: Entry = {
    term: 3,
    index: a.applied + 1,
    type: "normal",
    data: encodeCommand(ev("member-up", "b-down-drained")),
  };
  c.apply(up);
  t.is(c.members.get("b-down-drained")?.status, "drained");
  // A re-snapshot in the new shape restores to the same state again.
  const e = new CoordinatorState();
  e.restore(c.applied, c.snapshot());
  t.deepEqual(e.members.list(), c.members.list());
});

test("a member that joins or re-joins with pending checks shows them pending; member-up carries them too", (t) => {
  const s = build();
  const step = (c: Command) =>
    s.apply({ term: 2, index: s.applied + 1, type: "normal", data: encodeCommand(c) });
  const view = () => {
    const m = s.members.get("web3")!;
    const v = memberView(m, s.masters);
    return [v.status, v.checks, v.services.db?.state];
  };
  const pendingJoin = (checks: Record<string, string>) =>
    ev("member-joined", "web3", { address: "10.0.0.3:7400", services: ["db"], checks });

  // A first join straight after the agent started: nothing checked yet.
  step(pendingJoin({ nginx: "pending", "service:db": "pending" }));
  t.deepEqual(view(), ["up", { nginx: "pending", "service:db": "pending" }, "pending"]);
  step(ev("check-passing", "web3", { check: "nginx" }));
  step(ev("check-passing", "web3", { check: "service:db" }));
  t.deepEqual(view(), ["up", { nginx: "passing", "service:db": "passing" }, "standby"]);

  // The agent restarts while the member is up: the re-join makes the committed states pending.
  step(pendingJoin({ nginx: "pending", "service:db": "pending" }));
  t.deepEqual(view(), ["up", { nginx: "pending", "service:db": "pending" }, "pending"]);
  step(ev("check-failing", "web3", { check: "nginx" }));
  step(ev("check-passing", "web3", { check: "service:db" }));
  t.deepEqual(view(), ["up", { nginx: "failing", "service:db": "passing" }, "standby"]);

  // Down, then back after a restart: member-up carries the states it registered with...
  step(ev("member-down", "web3", { silent_ms: 1600 }));
  step(ev("member-up", "web3", { checks: { nginx: "pending", "service:db": "pending" } }));
  t.deepEqual(view(), ["up", { nginx: "pending", "service:db": "pending" }, "pending"]);
  // ...and a member-up without `checks` (as before they carried any) keeps the recorded ones.
  step(ev("member-down", "web3", { silent_ms: 1600 }));
  step(ev("member-up", "web3"));
  t.deepEqual(view(), ["up", { nginx: "pending", "service:db": "pending" }, "pending"]);

  // A state that is not a known one is never read as passing.
  step(pendingJoin({ nginx: "bogus", "service:db": "passing" }));
  t.deepEqual(view(), ["up", { nginx: "pending", "service:db": "passing" }, "standby"]);

  // Pending survives a snapshot.
  step(pendingJoin({ nginx: "pending", "service:db": "pending" }));
  const copy = new CoordinatorState();
  copy.restore(s.applied, s.snapshot());
  t.deepEqual(copy.members.get("web3")?.checks, { nginx: "pending", "service:db": "pending" });
});

test("the members cap: past MEMBERS_MAX a new member's join is over-limit on apply; known ones re-join; a leave makes room", (t) => {
  const s = new CoordinatorState();
  index = 0; // entries from 1
  const join = (name: string) =>
    s.apply(entry(ev("member-joined", name, { address: "10.0.0.1:7400", services: [], checks: {} })));
  const kinds = new Set<string>();
  for (let i = 0; i < MEMBERS_MAX; i++) kinds.add(join(`m${i}`).kind);
  t.deepEqual([...kinds], ["result"], "every join up to the cap applies");
  t.is(s.members.activeCount, MEMBERS_MAX);
  const refused = join("newcomer");
  t.like(refused, { kind: "over-limit", limit: "members" });
  t.is(s.joinProblem("newcomer"), refused.kind === "over-limit" ? refused.reason : "?");
  t.false(s.members.has("newcomer"), "nothing of the refused join is kept");
  t.is(s.joinProblem("m7"), null, "a member in the table re-joins freely");
  t.is(join("m7").kind, "result");
  t.is(s.apply(entry(ev("member-left", "m7"))).kind, "result");
  t.is(s.joinProblem("newcomer"), null, "a leave makes room");
  t.is(join("newcomer").kind, "result");
});
