/**
 * One member as the cluster shows it: the JSON of `conclave members --json`, each entry of
 * `members` on a handler's stdin (docs/handler-contract.md), and the status page's table.
 * The one declaration of the member's shape: the committed record (coordinator/), the leader's
 * tracker, the control API and the shipped handlers derive theirs from it.
 *
 * The view is derived only from committed state, so every elector shows the same.
 */
import type { CheckState } from "./check-state.ts";
import type { MemberStatus } from "./member-status.ts";

/**
 * A service's state on one member: `master` for the committed master; otherwise `failing`
 * when the service's status check (`service:NAME`) is failing there, `pending` while that
 * check is pending (the agent started and has not checked it enough yet: not a candidate
 * for master), `standby` otherwise.
 */
export type ServiceState = "master" | "standby" | "pending" | "failing";

/** One service of one member (docs/handler-contract.md: `"services": {NAME: {"state", "master", "epoch"}}`). */
export interface ServiceView {
  /** See {@link ServiceState}. */
  readonly state: ServiceState;
  /** Whether this member is the committed master of the service. */
  readonly master: boolean;
  /** The service's current master epoch (0 before any promotion). */
  readonly epoch: number;
}

/** One member in the committed view. */
export interface MemberView {
  /** The member's name. */
  readonly name: string;
  /** `advertise` of the member: `host:port` (IPv6 hosts in brackets). */
  readonly address: string;
  /** Its committed status; see {@link MemberStatus} and `memberStatus` for the rule. */
  readonly status: MemberStatus;
  /** The committed state of each of its checks, by check name (`pending` after an agent (re)start). */
  readonly checks: Readonly<Record<string, CheckState>>;
  /** Its services, by name. */
  readonly services: Readonly<Record<string, ServiceView>>;
}
