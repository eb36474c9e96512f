/**
 * The campaign's `--bug` modes (test/campaign/bug-modes.ts): one mode per bug the switch
 * knows, `--bug` refuses an unknown name with the list, the switch is set for the nodes in the
 * environment they inherit, and the round reported is the first one a checker found something
 * in (a round whose cluster never came up is no finding).
 */
import test from "ava";
import { INJECTABLE_BUG_NAMES } from "../../../src/fault-injection/injected-bug.ts";
import {
  BUG_MODES,
  campaignBug,
  firstViolation,
  parseBugMode,
  switchOnForNodes,
} from "../../campaign/bug-modes.ts";

test("one mode per injectable bug, each naming its checker", (t) => {
  t.deepEqual(Object.keys(BUG_MODES), INJECTABLE_BUG_NAMES);
  t.deepEqual(
    Object.values(BUG_MODES).map((m) => m.foundBy),
    ["exactly-once", "checks-truth", "masters", "kv"],
  );
});

test("--bug: a known name, or an error naming every known one", (t) => {
  t.deepEqual(parseBugMode("master-no-lease-wait"), { bug: "master-no-lease-wait" });
  t.deepEqual(parseBugMode("nope"), {
    error:
      "unknown bug mode: nope; known: handler-no-lease, checks-start-passing, master-no-lease-wait, follower-read-no-readindex",
  });
});

test("the switch goes into the environment the nodes inherit, and reads back", (t) => {
  const env: NodeJS.ProcessEnv = {};
  t.is(campaignBug(env), null);
  switchOnForNodes("handler-no-lease", env);
  t.is(env.CONCLAVE_INJECT_BUG, "handler-no-lease");
  t.is(campaignBug(env), "handler-no-lease");
  t.is(campaignBug({ CONCLAVE_INJECT_BUG: "junk" }), null);
  // A control run: a mode's workload without its bug (the nodes get no switch).
  t.is(campaignBug({ CAMPAIGN_BUG_WORKLOAD: "master-no-lease-wait" }), "master-no-lease-wait");
});

test("the first round with a violation, and its checkers; a round that did not run is no finding", (t) => {
  const v = (checker: string, what: string[] = []) => ({
    checker,
    violations: what.map((w) => ({ what: w })),
  });
  const rounds = [
    { verdicts: [v("kv"), v("masters")] },
    { verdicts: [v("converge", ["the round did not run: DNS did not list every member in 60 s"])] },
    { verdicts: [v("kv", ["not linearizable"]), v("masters"), v("converge", ["did not converge"])] },
  ];
  t.deepEqual(firstViolation(rounds), { round: 3, checkers: ["kv", "converge"] });
  t.is(firstViolation(rounds.slice(0, 2)), null);
});
