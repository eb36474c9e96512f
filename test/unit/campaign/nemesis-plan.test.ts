/**
 * The campaign's schedule (test/campaign/nemesis-plan.ts) is a function of the seed: the same
 * seed gives the same plan, another seed another; only the asked-for kinds appear; the process
 * lane's steps never overlap in their planned time.
 */
import test from "ava";
import { planRound } from "../../campaign/nemesis-plan.ts";
import { Prng } from "../../campaign/prng.ts";

const input = { seconds: 60, electors: ["e1", "e2", "e3"], members: ["m1", "m2", "m3", "m4"] };
const all = ["kill", "pause", "pause-leader-in-handler", "restart-failing", "flap"] as const;

test("the same seed gives the same plan; another seed another", (t) => {
  const a = planRound(new Prng(42), { ...input, faults: all });
  t.deepEqual(planRound(new Prng(42), { ...input, faults: all }), a);
  t.notDeepEqual(planRound(new Prng(43), { ...input, faults: all }), a);
  t.true(a.process.length > 3);
  t.true(a.checks.length > 3);
});

test("only the kinds asked for are planned, in order of time", (t) => {
  const p = planRound(new Prng(7), { ...input, faults: ["kill"] });
  t.true(p.process.every((s) => s.kind === "kill"));
  t.is(p.checks.length, 0);
  for (let i = 1; i < p.process.length; i++) t.true(p.process[i]!.at > p.process[i - 1]!.at);
});
