/**
 * `npm run campaign -- --rounds N [--seed S] [--faults LIST] [--round-seconds T]`: the
 * whole-system fault campaign (campaign.ts). Exit 1 on any violation, 2 on bad arguments.
 */
import { BUG_MODES, firstViolation, parseBugMode, switchOnForNodes } from "./bug-modes.ts";
import { replayCommand, runCampaign } from "./campaign.ts";
import { roundSeed } from "./prng.ts";
import type { RoundResult } from "./round.ts";
import type { InjectedBug } from "../../src/fault-injection/injected-bug.ts";
import { NETNS_FAULTS, PROCESS_FAULTS, type NetnsFault, type ProcessFault } from "./nemesis-plan.ts";

const USAGE = `usage: npm run campaign -- --rounds N [--seed S] [--faults LIST] [--round-seconds T] [--keep-dir DIR]
  --faults: comma-separated, from ${[...PROCESS_FAULTS, ...NETNS_FAULTS].join(", ")}
            (default: all; ${NETNS_FAULTS.join(", ")} need root, network namespaces and BIND9, and are
            skipped with the reason otherwise; disk-full is not implemented yet)
  --no-netns: stay on loopback even as root (only the process-level faults)
  --round-seconds: length of each round's fault phase (default 60); start-up and convergence come on top
  --bug NAME: switch on a known bug in every node (CONCLAVE_INJECT_BUG, docs/fault-injection.md), one of
            ${Object.keys(BUG_MODES).join(", ")}; the campaign must find it (exit 1, with the round)`;

function fail(msg: string): never {
  console.error(`campaign: ${msg}\n${USAGE}`);
  process.exit(2);
}

const args = process.argv.slice(2);
let rounds = 1;
let seed = Date.now() % 1_000_000_000;
// Every kind of the issue by default; the netns ones are skipped, and the output says so.
let faults: (ProcessFault | NetnsFault)[] = [...PROCESS_FAULTS, ...NETNS_FAULTS];
let roundSeconds = 60;
let keepDir: string | undefined;
let bug: InjectedBug | undefined;
// As root with network namespaces and BIND9, the rounds run in namespaces (netns-round.ts).
let netns = true;
for (let i = 0; i < args.length; i++) {
  const a = args[i]!;
  const value = () => args[++i] ?? fail(`${a} needs a value`);
  const whole = (v: string) => (/^\d+$/.test(v) ? Number(v) : fail(`${a}: not a whole number: ${v}`));
  switch (a) {
    case "--rounds":
      rounds = whole(value());
      break;
    case "--seed":
      seed = whole(value());
      break;
    case "--round-seconds":
      roundSeconds = whole(value());
      break;
    case "--keep-dir":
      keepDir = value();
      break;
    case "--faults": {
      const list = value()
        .split(",")
        .map((f) => f.trim())
        .filter((f) => f !== "");
      const known = [...PROCESS_FAULTS, ...NETNS_FAULTS] as readonly string[];
      const bad = list.filter((f) => !known.includes(f));
      if (bad.length > 0) fail(`unknown fault(s): ${bad.join(", ")}`);
      faults = list as (ProcessFault | NetnsFault)[];
      break;
    }
    case "--bug": {
      const parsed = parseBugMode(value());
      if ("error" in parsed) fail(parsed.error);
      bug = parsed.bug;
      break;
    }
    case "--no-netns":
      netns = false;
      break;
    case "-h":
    case "--help":
      console.log(USAGE);
      process.exit(0);
      break;
    default:
      fail(`unknown argument: ${a}`);
  }
}
if (rounds < 1) fail("--rounds must be at least 1");
if (roundSeconds < 5) fail("--round-seconds must be at least 5");

if (bug !== undefined) {
  // Every agent the rounds start (and the nemesis restarts) inherits the switch.
  switchOnForNodes(bug);
  console.log(
    `campaign: --bug ${bug}: every node runs with CONCLAVE_INJECT_BUG=${bug}; ${BUG_MODES[bug].foundBy} must find it`,
  );
}
if (bug === undefined) {
  const result = await runCampaign({
    rounds,
    seed,
    faults,
    roundSeconds,
    netns,
    ...(keepDir ? { keepDir } : {}),
  });
  process.exit(result.violations > 0 ? 1 : 0);
}
// A --bug mode stops at the first round that finds the bug: the rounds are the same as in one
// campaign of N rounds (round i has seed roundSeed(seed, i)), run one campaign of one round each.
const mode = BUG_MODES[bug];
const done: RoundResult[] = [];
for (let i = 0; i < rounds; i++) {
  console.log(`campaign: --bug ${bug}: round ${i + 1} of at most ${rounds}`);
  const r = await runCampaign({
    rounds: 1,
    seed: roundSeed(seed, i),
    faults,
    roundSeconds,
    netns,
    ...(keepDir ? { keepDir } : {}),
  });
  done.push(...r.rounds);
  if (firstViolation(r.rounds) !== null) break; // a round that could not run finds nothing
}
const first = firstViolation(done);
if (first === null) {
  console.log(`bug ${bug}: NOT FOUND in ${done.length} round(s) (expected ${mode.foundBy}: ${mode.shows})`);
  process.exit(0);
}
const r = done[first.round - 1]!;
console.log(
  `bug ${bug}: found in round ${first.round} of at most ${rounds} (seed ${r.seed}) by ${first.checkers.join(", ")}` +
    `${first.checkers.includes(mode.foundBy) ? "" : ` (expected ${mode.foundBy})`}; replay: ${replayCommand(r.seed, faults, roundSeconds)} --bug ${bug}${netns ? "" : " --no-netns"}`,
);
process.exit(1);
