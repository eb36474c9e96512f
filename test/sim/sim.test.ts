/**
 * The simulation as part of `npm test`: a few hundred seeds across cluster sizes, each
 * checking every safety invariant after every step and liveness once faults stop.
 */
import test from "ava";
import { runSimulation } from "./simulation.ts";

function campaign(nodes: number, first: number, count: number, steps: number) {
  const failures: string[] = [];
  let recoveryMax = 0;
  let elections = 0;
  for (let seed = first; seed < first + count; seed++) {
    const r = runSimulation({ seed, nodes, steps });
    if (!r.ok) failures.push(`seed ${seed}: ${r.message.split("\n")[0]}`);
    else {
      recoveryMax = Math.max(recoveryMax, r.recoveryTicks);
      elections += r.stats.elections;
    }
  }
  return { failures, recoveryMax, elections };
}

for (const [nodes, count] of [
  [3, 150],
  [5, 150],
  [7, 50],
] as const) {
  test(`${count} seeds with ${nodes} founding voters: no invariant violated, a proposal commits after faults stop`, (t) => {
    const { failures, elections } = campaign(nodes, 1, count, 800);
    t.deepEqual(failures, []);
    // The campaign must actually have exercised elections, or it proves nothing.
    t.true(elections >= count, `only ${elections} elections in ${count} seeds`);
  });
}

test("a seed replays exactly: same seed, same outcome and statistics", (t) => {
  const a = runSimulation({ seed: 4242, nodes: 5, steps: 600 });
  const b = runSimulation({ seed: 4242, nodes: 5, steps: 600 });
  t.deepEqual(a, b);
  const c = runSimulation({ seed: 4243, nodes: 5, steps: 600 });
  t.notDeepEqual(a, c);
});
