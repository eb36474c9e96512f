/**
 * The nemesis's schedule: a pure function of the seed. It lays out two lanes over the fault
 * phase: the process lane (one fault at a time, each healed before the next, so the three
 * electors always keep a quorum once healed) and the check lane (check flaps). Targets that
 * exist only at run time ("the leader, while a handler runs") are resolved by the executor
 * (nemesis.ts); everything else is fixed here, so a seed replays the same schedule.
 */
import type { Prng } from "./prng.ts";

/** Fault kinds this version runs: process-level, on loopback. */
export const PROCESS_FAULTS = [
  "kill",
  "pause",
  "pause-leader-in-handler",
  "restart-failing",
  "flap",
] as const;
export type ProcessFault = (typeof PROCESS_FAULTS)[number];

/**
 * Fault kinds of the issue that need network namespaces, iptables, tc netem or a loop mount:
 * run by netns rounds (netns-faults.ts), as root; skipped with the reason otherwise.
 * `disk-full` is not implemented yet (always skipped, saying so).
 */
export const NETNS_FAULTS = [
  "partition",
  "partition-leader",
  "one-way",
  "member-cut",
  "netem",
  "disk-full",
] as const;
export type NetnsFault = (typeof NETNS_FAULTS)[number];

/** One planned step. `at` is ms after the fault phase starts (a step never starts early). */
export type Step =
  | { readonly at: number; readonly kind: "kill"; readonly node: string; readonly downMs: number }
  | { readonly at: number; readonly kind: "pause"; readonly node: string; readonly pauseMs: number }
  | {
      readonly at: number;
      readonly kind: "pause-leader-in-handler";
      readonly pauseMs: number;
      readonly trigger: string;
    }
  | {
      readonly at: number;
      readonly kind: "restart-failing";
      readonly member: string;
      /** SIGTERM (a clean stop and start) rather than kill -9. */
      readonly graceful: boolean;
      readonly downMs: number;
      /** How long the check keeps failing after the restart. */
      readonly failAfterMs: number;
    }
  | { readonly at: number; readonly kind: "flap"; readonly member: string; readonly failMs: number }
  /** One elector and `members` cut from the rest, both ways (the leader may be on either side). */
  | {
      readonly at: number;
      readonly kind: "partition";
      readonly elector: string;
      readonly members: readonly string[];
      readonly ms: number;
    }
  /** The leader (resolved at run time) cut from every other node. */
  | { readonly at: number; readonly kind: "partition-leader"; readonly ms: number }
  /** Every packet from `node` (null: the leader) dropped, or with `inbound` every packet to it. */
  | {
      readonly at: number;
      readonly kind: "one-way";
      readonly node: string | null;
      readonly inbound: boolean;
      readonly ms: number;
    }
  /** `member` cut from the leader only (both ways). */
  | { readonly at: number; readonly kind: "member-cut"; readonly member: string; readonly ms: number }
  /** Delay and loss on `nodes`' egress (tc netem, or tbf where the kernel lacks netem). */
  | {
      readonly at: number;
      readonly kind: "netem";
      readonly nodes: readonly string[];
      readonly delayMs: number;
      readonly jitterMs: number;
      readonly lossPct: number;
      readonly rateKbit: number;
      readonly ms: number;
    };

/** What the plan is over. */
export interface PlanInput {
  readonly faults: readonly (ProcessFault | NetnsFault)[];
  readonly seconds: number;
  /** Weights that replace the default ones for some kinds (a `--bug` mode's: bug-modes.ts). */
  readonly weights?: Partial<Record<ProcessFault | NetnsFault, number>>;
  readonly electors: readonly string[];
  readonly members: readonly string[];
}

/** The two lanes of a round. */
export interface Plan {
  readonly process: readonly Step[];
  readonly checks: readonly Step[];
}

/** How often each process-lane kind is drawn, relative to the others. */
const WEIGHTS: Record<ProcessFault | NetnsFault, number> = {
  kill: 3,
  pause: 2,
  "pause-leader-in-handler": 3,
  "restart-failing": 2,
  flap: 0,
  partition: 2,
  "partition-leader": 2,
  "one-way": 2,
  "member-cut": 2,
  netem: 2,
  "disk-full": 0,
};

/** Lay out a round's faults. */
export function planRound(prng: Prng, p: PlanInput): Plan {
  const total = p.seconds * 1000;
  const nodes = [...p.electors, ...p.members];
  const processKinds = p.faults.filter((f) => f !== "flap");
  const process: Step[] = [];
  let t = 500;
  // The leader paused in the middle of a handler run comes up most: the first fault.
  const weighted = processKinds.flatMap((k) =>
    Array<ProcessFault | NetnsFault>(p.weights?.[k] ?? WEIGHTS[k]).fill(k),
  );
  while (weighted.length > 0 && t < total) {
    const kind = prng.pick(weighted);
    let step: Step;
    let length: number;
    switch (kind) {
      case "kill": {
        const downMs = prng.int(300, 3500);
        step = { at: t, kind, node: prng.pick(nodes), downMs };
        length = downMs + 2500; // the restarted agent's start-up
        break;
      }
      case "pause": {
        const pauseMs = prng.int(300, 3000);
        step = { at: t, kind, node: prng.pick(nodes), pauseMs };
        length = pauseMs + 500;
        break;
      }
      case "pause-leader-in-handler": {
        const pauseMs = prng.int(1800, 3500);
        step = { at: t, kind, pauseMs, trigger: prng.pick(p.members) };
        length = pauseMs + 2000;
        break;
      }
      case "restart-failing": {
        const downMs = prng.int(200, 1000);
        const failAfterMs = prng.int(500, 2500);
        step = { at: t, kind, member: prng.pick(p.members), graceful: prng.chance(0.3), downMs, failAfterMs };
        length = 1500 + downMs + 2500 + failAfterMs;
        break;
      }
      case "partition": {
        const ms = prng.int(1500, 6000);
        const members = p.members.filter(() => prng.chance(0.4)).slice(0, Math.floor(p.members.length / 2));
        step = { at: t, kind, elector: prng.pick(p.electors), members, ms };
        length = ms + 3000; // a new election and the members finding the leader again
        break;
      }
      case "partition-leader": {
        const ms = prng.int(1500, 6000);
        step = { at: t, kind, ms };
        length = ms + 3000;
        break;
      }
      case "one-way": {
        const ms = prng.int(1500, 5000);
        const node = prng.chance(0.5) ? null : prng.pick(nodes);
        step = { at: t, kind, node, inbound: prng.chance(0.5), ms };
        length = ms + 3000;
        break;
      }
      case "member-cut": {
        const ms = prng.int(1000, 5000);
        step = { at: t, kind, member: prng.pick(p.members), ms };
        length = ms + 2500;
        break;
      }
      case "netem": {
        const ms = prng.int(2000, 6000);
        const targets = [...p.electors, ...p.members].filter(() => prng.chance(0.35));
        step = {
          at: t,
          kind,
          nodes: targets.length > 0 ? targets : [prng.pick(p.electors)],
          delayMs: prng.int(20, 250),
          jitterMs: prng.int(0, 50),
          lossPct: prng.int(0, 15),
          rateKbit: prng.int(64, 512),
          ms,
        };
        length = ms + 2000;
        break;
      }
      default:
        throw new Error(`nemesis: ${kind} is not a process-lane fault`);
    }
    process.push(step);
    t += length + prng.int(300, 1500);
  }
  const checks: Step[] = [];
  if (p.faults.includes("flap")) {
    let c = 300;
    while (c < total) {
      const failMs = prng.int(200, 2500);
      checks.push({ at: c, kind: "flap", member: prng.pick(p.members), failMs });
      c += failMs + prng.int(1500, 5000);
    }
  }
  return { process, checks };
}

/** A step in words, for the round's line. */
export function describeStep(s: Step): string {
  switch (s.kind) {
    case "kill":
      return `kill -9 ${s.node} ${s.downMs}ms`;
    case "pause":
      return `SIGSTOP ${s.node} ${s.pauseMs}ms`;
    case "pause-leader-in-handler":
      return `SIGSTOP leader in a handler run ${s.pauseMs}ms`;
    case "restart-failing":
      return `${s.graceful ? "restart" : "kill -9 + restart"} ${s.member} while failing`;
    case "flap":
      return `flap ${s.member} ${s.failMs}ms`;
    case "partition":
      return `partition {${[s.elector, ...s.members].join(",")}} from the rest ${s.ms}ms`;
    case "partition-leader":
      return `leader isolated ${s.ms}ms`;
    case "one-way":
      return `one-way drop ${s.inbound ? "to" : "from"} ${s.node ?? "the leader"} ${s.ms}ms`;
    case "member-cut":
      return `${s.member} cut from the leader ${s.ms}ms`;
    case "netem":
      return `delay ${s.delayMs}±${s.jitterMs}ms loss ${s.lossPct}% (tbf ${s.rateKbit}kbit) on ${s.nodes.join(",")} ${s.ms}ms`;
  }
}
