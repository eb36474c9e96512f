/**
 * The read side of the control API. Reads are linearizable and served by the node that is
 * asked, leader or not: it first has the leader confirm the read index (ReadIndex, through
 * `linearizableBarrier`), then answers from its own applied state, which by then holds every
 * write committed before the call. Only Status prefers the leader's view, and falls back to
 * this node's own when the leader does not answer.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { type EventType, isEventType } from "../contract/events.ts";
import { verifyChain } from "../coordinator/event-chain.ts";
import { memberView } from "../coordinator/member-view.ts";
import type { CoordinatorState } from "../coordinator/state-machine.ts";
import { checksResponse } from "./checks-response.ts";
import { type ControlNode, electorStatuses, type LeaderForwarder } from "./control-node.ts";
import {
  type AuditVerifyResponse,
  type ChecksResponse,
  ControlError,
  type ElectorStatus,
  type KvItem,
  type MemberInfo,
  type StatusResponse,
} from "./control-types.ts";

/** Events returned by one Events call when the caller sets no limit. */
export const DEFAULT_EVENTS_LIMIT = 1000;
/** Most events one Events call returns, whatever the caller asks. */
export const MAX_EVENTS_LIMIT = 10_000;

/** Options of {@link ControlQueries}. */
export interface ControlQueryOptions {
  readonly node: ControlNode;
  readonly state: CoordinatorState;
  readonly logger: Logger;
  /** Deadline for the leader to confirm a read. */
  readonly requestTimeoutMs: number;
  /** SHA-256 of this node's handler configuration (reported in status). */
  readonly handlersDigest: string;
}

/** The control API's reads, independent of gRPC. */
export class ControlQueries {
  constructor(
    private readonly o: ControlQueryOptions,
    private readonly forwarder: LeaderForwarder,
  ) {}

  /** Wait until this node has applied everything committed before the call. */
  private barrier(): Promise<void> {
    return this.o.node.linearizableBarrier(this.o.requestTimeoutMs);
  }

  /** One key: its value and the revision (log index) that wrote it. */
  async kvGet(req: { key: string }): Promise<{ found: boolean; value: string; revision: number }> {
    await this.barrier();
    const e = this.o.state.kv.get(req.key);
    return e
      ? { found: true, value: e.value, revision: e.revision }
      : { found: false, value: "", revision: 0 };
  }

  /** Every key under `prefix`, in key order. */
  async kvList(req: { prefix: string }): Promise<{ items: KvItem[] }> {
    await this.barrier();
    return { items: this.o.state.kv.list(req.prefix) };
  }

  /** The leader's view when reachable; this node's own view otherwise (or with `local`). */
  async status(req: { local?: boolean } = {}): Promise<StatusResponse> {
    const leader = this.o.node.leader();
    if (!req.local && leader !== null && leader !== this.o.node.id) {
      try {
        return await this.forwarder.client(leader).status();
      } catch (e) {
        this.o.logger.debug({ err: e }, "status: the leader did not answer; answering locally");
      }
    }
    return this.localStatus();
  }

  private localStatus(): StatusResponse {
    const s = this.o.node.status();
    return {
      leader: s.leader ?? "",
      term: s.term,
      commit: s.commit,
      applied: this.o.state.applied,
      electors: electorStatuses(this.o.node),
      members: this.o.state.members.counts(),
      answeredBy: this.o.node.id,
      handlersDigest: this.o.handlersDigest,
    };
  }

  /** The electors as Status reports them. */
  async electorsList(): Promise<{ electors: ElectorStatus[] }> {
    const st = await this.status();
    return { electors: st.electors };
  }

  /** The committed member view. */
  async members(): Promise<{ members: MemberInfo[] }> {
    await this.barrier();
    return {
      members: this.o.state.members.list().map((m) => memberView(m, this.o.state.masters)),
    };
  }

  /**
   * Committed events after `since`, optionally of one type, at most `limit`
   * ({@link DEFAULT_EVENTS_LIMIT} when 0, never more than {@link MAX_EVENTS_LIMIT}).
   * @throws ControlError (INVALID_ARGUMENT) for an unknown event type
   */
  async events(req: { since: number; type: string; limit: number }): Promise<{ eventsJson: string[] }> {
    if (req.type !== "" && !isEventType(req.type)) {
      throw new ControlError(grpc.status.INVALID_ARGUMENT, `unknown event type "${req.type}"`);
    }
    await this.barrier();
    const limit = req.limit > 0 ? Math.min(req.limit, MAX_EVENTS_LIMIT) : DEFAULT_EVENTS_LIMIT;
    const events = this.o.state.events.since(req.since, {
      ...(req.type ? { type: req.type as EventType } : {}),
      limit,
    });
    return { eventsJson: events.map((e) => JSON.stringify(e)) };
  }

  /** Recompute this node's hash chain from its anchor and report the first broken link. */
  async auditVerify(): Promise<AuditVerifyResponse> {
    await this.barrier();
    const log = this.o.state.events;
    const anchor = log.anchor;
    const verdict = verifyChain(log.since(anchor.id), anchor);
    const where = { anchorId: anchor.id, headHash: log.head.hash };
    return verdict.ok
      ? { ok: true, checked: verdict.checked, brokenId: 0, reason: "", ...where }
      : { ok: false, checked: 0, brokenId: verdict.id, reason: verdict.reason, ...where };
  }

  /**
   * The cluster-wide check definitions in force, their version, and what members refuse of
   * them: committed state (checks-refused), so every elector answers the same.
   */
  async checksList(): Promise<ChecksResponse> {
    await this.barrier();
    return checksResponse(this.o.state);
  }
}
