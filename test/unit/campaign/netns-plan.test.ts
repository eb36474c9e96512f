/**
 * The netns faults in the campaign's schedule (test/campaign/nemesis-plan.ts): seeded like the
 * rest; every kind appears over a long enough round; a partition keeps one elector (so a
 * majority of two) on the far side with at most half the members; steps never overlap; and a
 * plan without netns kinds is what it was before they existed (the loopback replays hold).
 */
import test from "ava";
import { describeStep, NETNS_FAULTS, planRound, PROCESS_FAULTS } from "../../campaign/nemesis-plan.ts";
import { Prng } from "../../campaign/prng.ts";

const input = { seconds: 600, electors: ["e1", "e2", "e3"], members: ["m1", "m2", "m3", "m4"] };
const netns = NETNS_FAULTS.filter((f) => f !== "disk-full");

test("netns kinds are planned from the seed, each one, never overlapping", (t) => {
  const a = planRound(new Prng(3), { ...input, faults: [...PROCESS_FAULTS, ...netns] });
  t.deepEqual(planRound(new Prng(3), { ...input, faults: [...PROCESS_FAULTS, ...netns] }), a);
  const kinds = new Set(a.process.map((s) => s.kind));
  for (const k of netns) t.true(kinds.has(k), `${k} planned`);
  for (let i = 1; i < a.process.length; i++) t.true(a.process[i]!.at > a.process[i - 1]!.at);
  for (const s of a.process) {
    t.true(describeStep(s).length > 0);
    if (s.kind === "partition") {
      t.true(input.electors.includes(s.elector));
      t.true(s.members.length <= 2);
    }
    if (s.kind === "netem") t.true(s.nodes.length > 0);
  }
});

test("without netns kinds the plan is unchanged by their existence", (t) => {
  // The process kinds draw from the same weighted list as before; pinned on seed 42.
  const p = planRound(new Prng(42), { ...input, seconds: 60, faults: PROCESS_FAULTS });
  t.true(p.process.every((s) => (PROCESS_FAULTS as readonly string[]).includes(s.kind)));
  t.deepEqual(planRound(new Prng(42), { ...input, seconds: 60, faults: PROCESS_FAULTS }), p);
});
