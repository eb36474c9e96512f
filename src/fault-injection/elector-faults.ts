/**
 * The elector's half of the fault-injection switch (injected-bug.ts): for the bug switched on,
 * the alternative implementation elector/elector.ts wires in at one of its existing seams;
 * nothing (the production default) for every other seam. Each alternative is the known bug
 * as it would be written, not a test branch inside the real logic:
 *
 * - `handler-no-lease`: the handler runner's `runGuard` starts the handler as it is, without
 *   the lease watchdog (process/lease-watchdog.ts `leaseGuardedRun`): a run outlives a paused,
 *   cut-off or killed leader, and only the leader's own kill on leadership loss ends it;
 * - `master-no-lease-wait`: the master keeper's `promotionSafeAt` says "now", so a
 *   replacement is promoted as soon as the old master is demoted, while the old one may still
 *   hold its lease;
 * - `follower-read-no-readindex`: the control service's node answers `linearizableBarrier` at
 *   once on a follower, so reads come from whatever the follower has applied.
 */
import type { ControlNode } from "../control/control-node.ts";
import type { PromotionWait } from "../elector/leader/master-keeper.ts";
import type { RunGuard } from "../process/lease-watchdog.ts";
import type { InjectedBug } from "./injected-bug.ts";

/** What an elector wires in at its seams; an absent field means the production default. */
export interface ElectorFaults {
  readonly runGuard?: RunGuard;
  readonly promotionSafeAt?: PromotionWait;
  readonly controlNode?: (node: ControlNode) => ControlNode;
}

/** `handler-no-lease`: the handler itself, with no watchdog and no deadline. */
export const unguardedRun: RunGuard = (run) => run;

/** `master-no-lease-wait`: a promotion is always safe. */
export const promoteAtOnce: PromotionWait = () => 0;

/** `follower-read-no-readindex`: `node`, whose read barrier is a no-op unless it leads. */
export function readsWithoutReadIndex(node: ControlNode): ControlNode {
  return {
    id: node.id,
    leader: () => node.leader(),
    addressOf: (id) => node.addressOf(id),
    status: () => node.status(),
    peerContact: () => node.peerContact(),
    propose: (command) => node.propose(command),
    proposeConfChange: (...args: Parameters<ControlNode["proposeConfChange"]>) =>
      node.proposeConfChange(...args),
    linearizableBarrier: (timeoutMs) =>
      node.leader() === node.id ? node.linearizableBarrier(timeoutMs) : Promise.resolve(),
  };
}

/** The elector's alternatives for `bug` (none for no bug, or a bug of the member side). */
export function electorFaults(bug: InjectedBug | null): ElectorFaults {
  switch (bug) {
    case "handler-no-lease":
      return { runGuard: unguardedRun };
    case "master-no-lease-wait":
      return { promotionSafeAt: promoteAtOnce };
    case "follower-read-no-readindex":
      return { controlNode: readsWithoutReadIndex };
    case "checks-start-passing":
    case null:
      return {};
  }
}
