/**
 * What one node shows of itself on its HTTP port (the status page, `/api/status`, `/metrics`
 * and `/healthz`): a plain snapshot of each role it runs. The elector part is this node's own
 * applied state, read without a round trip to the leader, so the page still answers (and says
 * "no leader") when the cluster has lost its quorum: that is when an operator looks at it.
 */
import type { CheckState } from "../contract/check-state.ts";
import type { StatusResponse } from "../control/control-types.ts";
import type { Event } from "../contract/events.ts";
import type { MemberView } from "../contract/member-view.ts";
import type { ServiceRole } from "../member/services/service-manager.ts";

/** How many of the newest events the status page lists. */
export const RECENT_EVENTS = 25;

/**
 * The status as the HTTP endpoints show it: the control API's Status answered by this node,
 * with `leader` null when no leader is known (as `conclave status --json` and the member
 * part say it), not the empty string proto3 carries on the wire.
 */
export type ElectorStatusView = Omit<StatusResponse, "leader"> & { readonly leader: string | null };

/** `s` with the wire's empty `leader` turned into null. */
export function statusView(s: StatusResponse): ElectorStatusView {
  return { ...s, leader: s.leader === "" ? null : s.leader };
}

/** The elector role's part: this node's own view of the replicated state. */
export interface ElectorSnapshot {
  /** As `conclave status` shows it, answered by this node (`answeredBy`). */
  readonly status: ElectorStatusView;
  /** The committed member table, as `conclave members` shows it. */
  readonly members: readonly MemberView[];
  /** The newest {@link RECENT_EVENTS} committed events, newest last. */
  readonly events: readonly Event[];
  /** Events applied on this node since it started, by type (for `/metrics`). */
  readonly eventCounts: Readonly<Record<string, number>>;
}

/** The member role's part: this agent's link to the electors, its checks and services. */
export interface MemberSnapshot {
  /** The elector whose stream last acknowledged a report, null while not connected. */
  readonly connectedTo: string | null;
  /** The leader as the last acknowledgement or redirect named it. */
  readonly leader: string | null;
  /** Acknowledgements received since start. */
  readonly heartbeatsAcked: number;
  /** Every check this member runs (local, `service:NAME`, cluster-wide) and its state. */
  readonly checks: Readonly<Record<string, CheckState>>;
  /** Each service's role on this member. */
  readonly services: readonly ServiceRole[];
}

/** One node's snapshot; a role the node does not run is null. */
export interface NodeSnapshot {
  readonly node: string;
  /** When the snapshot was taken (ISO 8601, UTC). */
  readonly time: string;
  readonly elector: ElectorSnapshot | null;
  readonly member: MemberSnapshot | null;
}

/** Where the HTTP endpoints read from: each role of the node adds its source. */
export interface NodeViewSource {
  readonly node: string;
  elector?: () => Promise<ElectorSnapshot>;
  member?: () => MemberSnapshot;
}

/** Take a snapshot of every role of the node. */
export async function takeSnapshot(source: NodeViewSource): Promise<NodeSnapshot> {
  return {
    node: source.node,
    time: new Date().toISOString(),
    elector: source.elector ? await source.elector() : null,
    member: source.member ? source.member() : null,
  };
}

/** The answer of `/healthz`: healthy, or the problems that make it not. */
export interface Health {
  readonly ok: boolean;
  readonly problems: readonly string[];
}

/**
 * A node is healthy when each of its roles can do its job: an elector knows a leader (so
 * events can commit), a member has an acknowledged stream to an elector (so it is reported
 * and its master lease can be renewed).
 */
export function healthOf(s: NodeSnapshot): Health {
  const problems: string[] = [];
  if (s.elector && s.elector.status.leader === null) problems.push("elector: no leader known");
  if (s.member && s.member.connectedTo === null) problems.push("member: not connected to an elector");
  return { ok: problems.length === 0, problems };
}
