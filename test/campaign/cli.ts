/**
 * `npm run campaign -- --rounds N [--seed S] [--faults LIST] [--round-seconds T]`: the
 * whole-system fault campaign (campaign.ts). Exit 1 on any violation, 2 on bad arguments.
 */
import { runCampaign } from "./campaign.ts";
import { NETNS_FAULTS, PROCESS_FAULTS, type NetnsFault, type ProcessFault } from "./nemesis-plan.ts";

const USAGE = `usage: npm run campaign -- --rounds N [--seed S] [--faults LIST] [--round-seconds T] [--keep-dir DIR]
  --faults: comma-separated, from ${[...PROCESS_FAULTS, ...NETNS_FAULTS].join(", ")}
            (default: all; ${NETNS_FAULTS.join(", ")} are skipped for now, with the reason)
  --round-seconds: length of each round's fault phase (default 60); start-up and convergence come on top`;

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
    case "--bug":
      fail("--bug modes are not implemented yet");
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

const result = await runCampaign({ rounds, seed, faults, roundSeconds, ...(keepDir ? { keepDir } : {}) });
process.exit(result.violations > 0 ? 1 : 0);
