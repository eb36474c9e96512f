/**
 * The fault campaign (issue 13) in `npm test`: two short rounds (`npm run campaign -- --rounds 2
 * --seed 26 --round-seconds 12`, one ava test each so no test outlives ava's timeout), with
 * every process-level fault. Each must find no violation, and over the two rounds every checker
 * must have counted something, so the campaign cannot pass by checking nothing. Seeds 26 and 27
 * plan a leader paused in a handler run, members killed and paused past member_timeout, an
 * elector killed, and check flaps. The netns faults are skipped (and the output says so).
 */
import test from "ava";
import { type CampaignResult, runCampaign } from "./campaign.ts";
import { PROCESS_FAULTS } from "./nemesis-plan.ts";
import { CHECKERS } from "./verdict.ts";

const SEED = 26;
const results: CampaignResult[] = [];

for (const i of [0, 1]) {
  test.serial(`campaign round ${i + 1} of 2 (seed ${SEED + i}): no violation`, async (t) => {
    t.timeout(180_000);
    const lines: string[] = [];
    const r = await runCampaign({
      rounds: 1,
      seed: SEED + i,
      faults: [...PROCESS_FAULTS, "partition"],
      roundSeconds: 12,
      print: (l) => lines.push(l),
    });
    t.log(lines.join("\n"));
    results.push(r);
    t.deepEqual(
      r.skipped.map((s) => s.fault),
      ["partition"],
    );
    t.true(lines.some((l) => l.startsWith("skipped faults: partition")));
    t.is(r.violations, 0, lines.join("\n"));
  });
}

test.serial("over both rounds every checker counted something", (t) => {
  t.is(results.length, 2);
  for (const name of CHECKERS) {
    const total = results.reduce((n, r) => n + r.totals[name].count, 0);
    t.true(total > 0, `${name} checked nothing`);
  }
  t.true(
    results.some((r) => r.rounds.some((x) => x.faults.length > 0)),
    "the nemesis did something",
  );
});
