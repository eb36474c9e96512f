/**
 * The campaign's `--bug NAME` modes (issue 13: "to prove the checkers can fail"): each turns on
 * one known bug in every node of every round through the documented fault-injection switch,
 * `CONCLAVE_INJECT_BUG=NAME` (src/fault-injection/, docs/fault-injection.md), and names the
 * checker that must find it. The CLI (cli.ts) sets the variable in the campaign's own
 * environment, which every agent the cluster starts (or the nemesis restarts) inherits; the
 * round (round.ts) reads it back here for the few workload changes a mode needs.
 */
import {
  INJECT_BUG_ENV,
  INJECTABLE_BUG_NAMES,
  type InjectedBug,
  injectedBugFromEnv,
  isInjectedBug,
} from "../../src/fault-injection/injected-bug.ts";
import type { ProcessFault } from "./nemesis-plan.ts";
import type { CheckerName } from "./verdict.ts";

/** One `--bug` mode. */
export interface BugMode {
  /** The checker that must find it. */
  readonly foundBy: CheckerName;
  /** How it shows, in words. */
  readonly shows: string;
  /**
   * Work ticks of the recorder (40 ms each; recorder.ts), when the mode needs runs long enough
   * to outlive a leader's takeover; the recorder's default otherwise.
   */
  readonly recorderTicks?: number;
  /** Nemesis weights that replace the default ones (nemesis-plan.ts), to provoke the bug more often. */
  readonly weights?: Partial<Record<ProcessFault, number>>;
  /** Cluster timing that replaces the round's (round.ts `TIMING`). */
  readonly timing?: { readonly masterLease?: string };
}

/** Every mode, by the bug it switches on. */
export const BUG_MODES: Readonly<Record<InjectedBug, BugMode>> = {
  "handler-no-lease": {
    foundBy: "exactly-once",
    shows:
      "a run of a paused or killed leader still runs when the next leader's attempt starts: two runs of one pair overlap",
    // ~5 s: longer than a takeover plus the rerun wait (about 2.2 to 3.3 s after the fault).
    recorderTicks: 110,
    // The leader paused in a run (or killed in one) is what a run without its lease outlives.
    weights: { "pause-leader-in-handler": 8, kill: 3, pause: 1, "restart-failing": 1 },
  },
  "checks-start-passing": {
    foundBy: "checks-truth",
    shows: "an agent restarted while its application fails registers its check as passing",
  },
  "master-no-lease-wait": {
    foundBy: "masters",
    shows:
      "a paused master is replaced once it is judged down, while its lease still runs: it demotes only after the new master's promote began",
    // A lease well beyond member_timeout (1.5 s): with the round's 2 s lease, a paused
    // master's own lease watchdog demotes it about when it is judged down, hiding the bug
    // (a killed master's watchdog demotes it at once). Paused members are what shows it.
    timing: { masterLease: "6s" },
    weights: { pause: 8, kill: 1, "pause-leader-in-handler": 1, "restart-failing": 1 },
  },
  "follower-read-no-readindex": {
    foundBy: "kv",
    shows: "a follower behind the leader (or just resumed) answers a get with a value already overwritten",
  },
};

/** `--bug NAME`: the bug, or why not (with the list). */
export function parseBugMode(name: string): { bug: InjectedBug } | { error: string } {
  return isInjectedBug(name)
    ? { bug: name }
    : { error: `unknown bug mode: ${name}; known: ${INJECTABLE_BUG_NAMES.join(", ")}` };
}

/** Switch `bug` on for every node this process starts from now on. */
export function switchOnForNodes(bug: InjectedBug, env: NodeJS.ProcessEnv = process.env): void {
  env[INJECT_BUG_ENV] = bug;
}

/**
 * Whose workload changes the rounds use: the mode of the bug the nodes run with (the switch in
 * this process's environment), or, for a control run with the workload but without the bug,
 * the mode named by `CAMPAIGN_BUG_WORKLOAD` (read only here, never by a node).
 */
export function campaignBug(env: NodeJS.ProcessEnv = process.env): InjectedBug | null {
  const control = env.CAMPAIGN_BUG_WORKLOAD;
  if (control !== undefined && isInjectedBug(control)) return control;
  try {
    return injectedBugFromEnv(env);
  } catch {
    return null;
  }
}

/** campaign.ts's verdict for a round whose cluster never came up: it found nothing. */
const DID_NOT_RUN = "the round did not run";

/**
 * The round (1-based) whose checkers found a violation first, and which checkers; null if
 * none. A round that did not run (its cluster never came up) is no finding.
 */
export function firstViolation(
  rounds: readonly {
    readonly verdicts: readonly { checker: string; violations: readonly { what: string }[] }[];
  }[],
): { round: number; checkers: string[] } | null {
  for (const [i, r] of rounds.entries()) {
    const checkers = r.verdicts
      .filter((v) => v.violations.some((x) => !x.what.startsWith(DID_NOT_RUN)))
      .map((v) => v.checker);
    if (checkers.length > 0) return { round: i + 1, checkers };
  }
  return null;
}
