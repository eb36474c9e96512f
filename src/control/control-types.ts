/**
 * Plain-object shapes of the control API (proto/control.proto), shared by the service, its
 * client and the CLI. Field names are protobufjs's camelCase forms of the proto fields.
 */
import type { MemberView } from "../contract/member-view.ts";

/**
 * One elector as `conclave status` and `conclave electors list` show it, in the view of the
 * node that answered (control-node.ts, `electorStatuses`).
 */
export interface ElectorStatus {
  name: string;
  address: string;
  role: "leader" | "follower" | "candidate" | "learner";
  /**
   * The highest log index known to be replicated on it. Only the leader tracks this: null
   * in the answer of any other node. (proto3 carries null as 0: see docs/status-and-metrics.md.)
   */
  match: number | null;
  /**
   * Whether the answering node heard from it within an election timeout: true, false (the
   * leader, which expects an answer to every heartbeat, has not heard from it), or null
   * (unknown: a node that does not lead hears from the other followers only during
   * elections). proto3 carries null as false.
   */
  reachable: boolean | null;
}

/** The answer to Status (the leader's view when there is a leader). */
export interface StatusResponse {
  /** Empty when no leader is known. */
  leader: string;
  term: number;
  commit: number;
  applied: number;
  electors: ElectorStatus[];
  members: { up: number; down: number; drained: number };
  answeredBy: string;
  handlersDigest: string;
}

/** A key-value item. */
export interface KvItem {
  key: string;
  value: string;
  revision: number;
}

/** One member, as `conclave members` shows it: the contract's member view. */
export type MemberInfo = MemberView;

/** The result of `conclave audit verify`. */
export interface AuditVerifyResponse {
  ok: boolean;
  checked: number;
  brokenId: number;
  reason: string;
  anchorId: number;
  headHash: string;
}

/** The cluster-wide checks in force (`checks apply`, `checks list`). */
export interface ChecksResponse {
  /** The id of the checks-updated event in force (0: none). */
  version: number;
  /** The definitions, a JSON array in the `checks:` form of docs/checks.md. */
  checksJson: string;
  /**
   * What members refuse of them (docs/checks.md#remote-commands), a JSON object
   * `{MEMBER: {CHECK: REASON}}`; `""` from an elector that predates refusals.
   */
  refusedJson: string;
}

/** The control API, as the CLI uses it. Every method may throw {@link ControlError}. */
export interface ControlApi {
  /** Set a key; resolves with the revision (log index) that wrote it. */
  kvPut(key: string, value: string): Promise<{ revision: number }>;
  /** One key, read linearizably. */
  kvGet(key: string): Promise<{ found: boolean; value: string; revision: number }>;
  /** Every key under `prefix`, in key order. */
  kvList(prefix: string): Promise<{ items: KvItem[] }>;
  /** Delete a key; `deleted` says whether it existed. */
  kvDelete(key: string): Promise<{ deleted: boolean; revision: number }>;
  /** The leader's view; with `local`, the answering node's own. */
  status(local?: boolean): Promise<StatusResponse>;
  /** The voters and learners, with their replication state. */
  electorsList(): Promise<{ electors: ElectorStatus[] }>;
  /** Add an elector: as a learner, promoted to voter once it has caught up. */
  electorsAdd(name: string, address: string): Promise<{ electors: ElectorStatus[] }>;
  /** Remove a voter or learner. */
  electorsRemove(name: string): Promise<{ electors: ElectorStatus[] }>;
  /** The committed member view. */
  members(): Promise<{ members: MemberInfo[] }>;
  /** Events after `since` (JSON strings, in id order). */
  events(since: number, type: string, limit: number): Promise<{ eventsJson: string[] }>;
  /** Recompute the hash chain on the node asked. */
  auditVerify(): Promise<AuditVerifyResponse>;
  /** Run a failed handler of an event again (all failed ones when `handler` is empty). */
  handlersRetry(eventId: number, handler: string): Promise<{ started: string[] }>;
  /** Planned switchover; resolves once `member` is the committed master of `service`. */
  promote(service: string, member: string): Promise<{ epoch: number; previous: string }>;
  /** Maintenance mode on; resolves once the member is drained and master of nothing. */
  drain(member: string): Promise<{ status: string; moved: string[] }>;
  /** Maintenance mode off. */
  undrain(member: string): Promise<{ status: string; moved: string[] }>;
  /** Commit cluster-wide check definitions (a JSON array). */
  checksApply(checksJson: string): Promise<ChecksResponse>;
  /** The cluster-wide check definitions in force, and what members refuse of them. */
  checksList(): Promise<ChecksResponse>;
  /** Close the channel. */
  close(): void;
}

/** A control call failed; `code` is the gRPC status code, `message` says what went wrong. */
export class ControlError extends Error {
  override readonly name = "ControlError";
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}
