/**
 * What members refuse of the cluster-wide checks, as the replicated state folds it
 * (src/coordinator/cluster-checks-state.ts, through the state machine): a `checks-refused`
 * about the set in force is kept per member, one about another version is ignored,
 * `checks-updated` clears every refusal (members judge the new set), a member that leaves has
 * none, an empty list removes the entry, and a snapshot carries them. Malformed details are
 * refused at apply time alike on every elector.
 */
import test from "ava";
import type { Entry } from "../../../raft/index.ts";
import { type Command, encodeCommand } from "../../../src/coordinator/commands.ts";
import { CoordinatorState } from "../../../src/coordinator/state-machine.ts";

const ev = (type: string, member: string | null, details: Record<string, unknown> = {}): Command =>
  ({
    type: "event",
    event: { time: "2026-11-22T10:00:00.000Z", type, member, service: null, details },
  }) as Command;

/** A fresh state machine and a function applying commands to it in index order. */
function machine() {
  const s = new CoordinatorState();
  s.restore(1, new Uint8Array());
  const step = (c: Command) => {
    const e: Entry = { term: 2, index: s.applied + 1, type: "normal", data: encodeCommand(c) };
    return s.apply(e);
  };
  return { s, step };
}

const COMMAND = { name: "whoami", type: "command", run: "id" };
const REASON =
  "a command check from checks apply; this member's config does not set allow_remote_commands: true";

test("refusals of the set in force are kept per member; other versions, a new set and member-left drop them", (t) => {
  const { s, step } = machine();
  step(ev("member-joined", "web1", { address: "10.0.0.1:7400", services: [], checks: {} }));
  step(ev("checks-updated", null, { checks: [COMMAND], names: ["whoami"] }));
  const v1 = s.clusterChecks.get().version;
  t.deepEqual(s.clusterChecks.refusals(), {});

  step(ev("checks-refused", "web1", { version: v1, refused: { whoami: REASON } }));
  step(ev("checks-refused", "web2", { version: v1 - 1, refused: { whoami: REASON } }));
  t.deepEqual(
    s.clusterChecks.refusals(),
    { web1: { whoami: REASON } },
    "another version's report is ignored",
  );
  t.deepEqual(s.clusterChecks.refusalsOf("web1"), { version: v1, refused: { whoami: REASON } });
  t.deepEqual(s.clusterChecks.refusalsOf("web2"), { version: v1, refused: {} });

  // Carried by a snapshot, and restored alike.
  const copy = new CoordinatorState();
  copy.restore(s.applied, s.snapshot());
  t.deepEqual(copy.clusterChecks.refusals(), s.clusterChecks.refusals());
  t.deepEqual(copy.clusterChecks.get(), s.clusterChecks.get());

  // An empty list: the member now runs everything of that version.
  step(ev("checks-refused", "web1", { version: v1, refused: {} }));
  t.deepEqual(s.clusterChecks.refusals(), {});
  step(ev("checks-refused", "web1", { version: v1, refused: { whoami: REASON } }));
  step(ev("member-left", "web1"));
  t.deepEqual(s.clusterChecks.refusals(), {}, "a member that left runs nothing");

  step(ev("checks-refused", "web1", { version: v1, refused: { whoami: REASON } }));
  step(ev("checks-updated", null, { checks: [COMMAND], names: ["whoami"] }));
  t.deepEqual(s.clusterChecks.refusals(), {}, "each member judges a new set afresh");
  // A proposal made before the new set committed lands after it: ignored.
  step(ev("checks-refused", "web1", { version: v1, refused: { whoami: REASON } }));
  t.deepEqual(s.clusterChecks.refusals(), {});
});

test("a checks-refused with malformed details is refused at apply time and changes nothing", (t) => {
  const { s, step } = machine();
  step(ev("checks-updated", null, { checks: [COMMAND], names: ["whoami"] }));
  const version = s.clusterChecks.get().version;
  for (const details of [
    { version, refused: { "bad name!": REASON } },
    { version, refused: { whoami: 7 } },
    { version: -1, refused: {} },
    { version, refused: [] },
  ]) {
    const outcome = step(ev("checks-refused", "web1", details));
    t.is(outcome.kind, "rejected", JSON.stringify(details));
  }
  t.deepEqual(s.clusterChecks.refusals(), {});
});

test("a snapshot of an older version (no refusals) restores with none", (t) => {
  const { s, step } = machine();
  step(ev("checks-updated", null, { checks: [COMMAND], names: ["whoami"] }));
  const data = JSON.parse(new TextDecoder().decode(s.snapshot())) as Record<string, unknown>;
  t.false("refused" in (data.clusterChecks as object), "nothing refused: the old shape");
  const copy = new CoordinatorState();
  copy.restore(s.applied, new TextEncoder().encode(JSON.stringify(data)));
  t.deepEqual(copy.clusterChecks.refusals(), {});
  t.is(copy.clusterChecks.get().version, s.clusterChecks.get().version);
});
