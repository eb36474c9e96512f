/**
 * The one rule for an event's time, and the one way an elector commits an event it decided.
 *
 * Rule: an event is stamped with the wall clock of the node that decides it, at the moment it
 * is proposed, as `Date.prototype.toISOString` spells it (UTC, millisecond precision). The
 * time is part of the proposed command, so every elector stores the same string and the hash
 * chain covers it; the log's order is its id order, never its time order (wall clocks of
 * successive leaders may disagree, and that is fine).
 *
 * Everything on the elector that records an event (the leader roles, the control service,
 * the leader-elected marker) goes through {@link eventCommitter}, so the rule is applied in
 * exactly one place: {@link stampEvent}.
 */
import type { Event, EventFields } from "../contract/events.ts";
import type { ElectorNode } from "./elector-node.ts";
import { UnexpectedOutcomeError } from "./node-errors.ts";

/** An event as its decider describes it: everything but the time, which {@link stampEvent} adds. */
export type UnstampedEvent = Omit<EventFields, "time">;

/** A wall clock (the seam for tests). */
export type WallClock = () => Date;

/** The system wall clock. */
export const systemWallClock: WallClock = () => new Date();

/** Commit an event decided on this node; resolves with the committed event. */
export type CommitEvent = (fields: UnstampedEvent) => Promise<Event>;

/**
 * The event as it is proposed: `fields` with `time` from `clock`. `details` is copied, so a
 * caller that reuses its object cannot change what was proposed.
 */
export function stampEvent(fields: UnstampedEvent, clock: WallClock = systemWallClock): EventFields {
  return {
    time: clock().toISOString(),
    type: fields.type,
    member: fields.member,
    service: fields.service,
    details: { ...fields.details },
  };
}

/** Options of {@link eventCommitter}. */
export interface EventCommitterOptions {
  /** The node proposals go to (this node, which must lead for them to commit). */
  readonly node: Pick<ElectorNode, "propose">;
  /** Wall clock for event times; the system clock when absent. */
  readonly clock?: WallClock;
}

/**
 * A {@link CommitEvent} that stamps and proposes through `node`.
 * The returned promise rejects as `node.propose` does (NotLeaderError, ProposalDroppedError,
 * NodeStoppedError), and with UnexpectedOutcomeError when the entry applied as something other
 * than an event (which a validated event command never does).
 */
export function eventCommitter(options: EventCommitterOptions): CommitEvent {
  const clock = options.clock ?? systemWallClock;
  return async (fields) => {
    const out = await options.node.propose({ type: "event", event: stampEvent(fields, clock) });
    if (out.kind !== "result" || out.result.type !== "event") throw new UnexpectedOutcomeError("event", out);
    return out.result.event;
  };
}
