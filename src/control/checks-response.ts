/**
 * The answer of `checks apply` and `checks list` (proto `ChecksResponse`), built from committed
 * state only: the definitions in force, their version, and what each member refuses of them
 * (coordinator/cluster-checks-state.ts). Every elector holds the same state, so every elector
 * gives the same answer at the same applied index.
 */
import type { CoordinatorState } from "../coordinator/state-machine.ts";
import type { ChecksResponse } from "./control-types.ts";

/** The cluster-wide checks of `state`, as the control API answers them. */
export function checksResponse(state: Pick<CoordinatorState, "clusterChecks">): ChecksResponse {
  const c = state.clusterChecks.get();
  return {
    version: c.version,
    checksJson: JSON.stringify(c.checks),
    refusedJson: JSON.stringify(state.clusterChecks.refusals()),
  };
}
