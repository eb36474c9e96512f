/**
 * `npm start` until the real CLI exists: narrates one seeded simulation run of five Raft
 * electors through crashes, partitions, membership changes and leader transfers, then
 * prints what the safety oracle checked. Everything runs in this process, in logical time.
 */
import { runSimulation } from "./simulation.ts";

const seed = Number(process.argv[2] ?? 7);
const interesting =
  /becomes leader|crash|restart|partition|isolated|heal|learner|promotes|removes|transfers|faults stop|final/;
let proposals = 0;

process.stdout.write(
  [
    "Conclave: the electors' Raft core in a deterministic simulation.",
    "(The cluster CLI, `conclave dev`, is not built yet; this shows the consensus core it will run on.)",
    `Five electors, a lossy network, seed ${seed}. t = logical ticks (one tick = one heartbeat interval).`,
    "",
  ].join("\n"),
);

const r = runSimulation({
  seed,
  nodes: 5,
  steps: 600,
  onEvent: (e) => {
    if (e.includes(" proposes p")) proposals++;
    else if (interesting.test(e)) process.stdout.write(`  ${e}\n`);
  },
});

if (r.ok) {
  const s = r.stats;
  process.stdout.write(
    [
      "",
      `Done after ${r.ticks} ticks: ${proposals} client proposals, ${s.elections} leaders elected, ${s.commits} entries committed,`,
      `${s.reads} linearizable reads served, ${s.confChanges} membership-change entries persisted.`,
      `After faults stopped, a leader committed a new entry within ${r.recoveryTicks} ticks.`,
      "Checked after every step: one leader per term, log matching, leader completeness,",
      "identical applied state on every node, commit/applied never going back, safe membership changes.",
      "",
      "Try: npm run sim -- --seeds 1000        (1000 seeded fault schedules)",
      "     npm run sim -- --seeds 300 --nodes 3 --steps 4000 --bug commit-old-term   (watch it catch a bug)",
      "",
    ].join("\n"),
  );
} else {
  process.stdout.write(`\nInvariant violated: ${r.message}\n`);
  process.exitCode = 1;
}
