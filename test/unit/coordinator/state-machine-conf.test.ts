/**
 * A conf entry is applied as raft applies it: the state machine takes the address book from
 * every entry raft can decode, with no rule of its own, so the book never disagrees with
 * raft's configuration (the rules of conf-change-rules.ts are a gate before raft, in the
 * elector). Only data raft cannot decode either is skipped.
 */
import test from "ava";
import { applyConfChange, encodeConfChange, type Entry } from "../../../raft/index.ts";
import { confChangeEntryProblem } from "../../../src/coordinator/conf-change-rules.ts";
import { CoordinatorState } from "../../../src/coordinator/state-machine.ts";

const conf = (index: number, data: Uint8Array): Entry => ({ index, term: 1, type: "conf", data });

test("a conf entry the gate would refuse still applies as raft applies it, so the address book follows raft", (t) => {
  const s = new CoordinatorState(new Map([["a", "127.0.0.1:7400"]]));
  const long = "x".repeat(300);
  const cc = { type: "add-learner" as const, node: "d", context: `${long}:7403` };
  const data = encodeConfChange(cc);
  t.not(confChangeEntryProblem(data), null, "the gate refuses it (address too long)");
  const out = s.apply(conf(1, data));
  t.is(out.kind, "conf");
  const raftConf = applyConfChange({ voters: ["a"], learners: [] }, cc);
  t.deepEqual(raftConf.learners, ["d"]);
  t.is(s.electorAddresses().get("d"), `${long}:7403`, "the book has the learner raft has");
});

test("data raft cannot decode is skipped (raft refuses it too)", (t) => {
  const s = new CoordinatorState();
  const out = s.apply(conf(1, new TextEncoder().encode("not json")));
  t.deepEqual(out, { kind: "rejected", reason: "conf change: data is not JSON" });
  t.is(s.applied, 1);
});
