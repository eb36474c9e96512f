/**
 * Why a request to the local elector node failed: the errors `ElectorNode` rejects
 * proposals and reads with. The control API maps each to a gRPC status an operator can act on
 * (UNAVAILABLE for the retriable ones, DEADLINE_EXCEEDED for a timeout).
 */
import type { ApplyOutcome } from "../coordinator/state-machine.ts";

/** A proposal was overwritten by a new leader before it committed: the client may retry. */
export class ProposalDroppedError extends Error {
  override readonly name = "ProposalDroppedError";
  constructor(index: number) {
    super(`the proposal at index ${index} was replaced by a new leader before it committed; retry`);
  }
}

/** The node is stopping; outstanding requests are abandoned. */
export class NodeStoppedError extends Error {
  override readonly name = "NodeStoppedError";
  constructor() {
    super("the node is shutting down");
  }
}

/**
 * A committed proposal applied as something other than what was proposed (a validated
 * command never does; seeing this means a bug, not a cluster condition).
 */
export class UnexpectedOutcomeError extends Error {
  override readonly name = "UnexpectedOutcomeError";
  /**
   * @param expected the command type that was proposed
   * @param outcome what applying it gave
   */
  constructor(
    readonly expected: string,
    readonly outcome: ApplyOutcome,
  ) {
    const got = outcome.kind === "result" ? `a ${outcome.result.type} result` : outcome.kind;
    super(`unexpected outcome ${got} for a proposed ${expected} command`);
  }
}

/** A request did not complete in time (no leader, or a partition). */
export class RequestTimeoutError extends Error {
  override readonly name = "RequestTimeoutError";
}
