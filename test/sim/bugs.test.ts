/**
 * The simulation can fail: each classic Raft bug, injected by patching the prototype from
 * this test (raft/ has no test-only branch), is found within a bounded number of seeds.
 * The search is deterministic, so a pass or failure is reproducible.
 */
import test from "ava";
import { BUGS } from "./bugs.ts";
import { runSimulation } from "./simulation.ts";

const SEARCH: Record<string, { nodes: number; steps: number; seeds: number }> = {
  "vote-without-log-check": { nodes: 5, steps: 800, seeds: 200 },
  "truncate-committed": { nodes: 5, steps: 800, seeds: 200 },
  // Figure 8 needs a re-elected leader to crash right after counting replicas of an old
  // entry: rarer, so longer runs on the smallest cluster.
  "commit-old-term": { nodes: 3, steps: 4000, seeds: 600 },
};

for (const bug of BUGS) {
  test.serial(`the simulation finds the injected bug: ${bug.description}`, (t) => {
    const search = SEARCH[bug.name];
    if (!search) {
      t.fail(`no search budget for ${bug.name}`);
      return;
    }
    const undo = bug.inject();
    try {
      let found: { seed: number; invariant: string } | undefined;
      for (let seed = 1; seed <= search.seeds && !found; seed++) {
        const r = runSimulation({ seed, nodes: search.nodes, steps: search.steps });
        // Only a broken safety property counts: these are safety bugs.
        if (!r.ok && r.invariant !== "crash" && r.invariant !== "liveness")
          found = { seed, invariant: r.invariant };
      }
      t.truthy(found, `${bug.name} survived ${search.seeds} seeds`);
      t.log(`${bug.name}: found at seed ${found?.seed} as a ${found?.invariant} violation`);
    } finally {
      undo();
    }
  });
}

test.serial("without an injected bug the same searches find nothing", (t) => {
  for (const search of Object.values(SEARCH)) {
    for (let seed = 1; seed <= 20; seed++) {
      const r = runSimulation({ seed, nodes: search.nodes, steps: search.steps });
      t.true(r.ok, r.ok ? "" : `seed ${seed}: ${r.message}`);
    }
  }
});
