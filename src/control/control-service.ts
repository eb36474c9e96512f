/**
 * The control API served by every elector (proto/control.proto). Writes and membership
 * changes run on the leader: a follower forwards the call to the leader and relays the
 * answer, so a client may talk to any node. Reads are linearizable: the leader confirms
 * the read index (ReadIndex), then this node answers from its own applied state.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import {
  ConfChangeRefusedError,
  LeaderTransferringError,
  type NodeId,
  NotLeaderError,
} from "../../raft/index.ts";
import { BadCommandError } from "../coordinator/commands.ts";
import {
  type AuditVerifyResponse,
  type ControlApi,
  ControlError,
  type ElectorStatus,
  type MemberInfo,
  type StatusResponse,
} from "./control-types.ts";
import { type EventType, isEventType, verifyChain } from "../coordinator/event-log.ts";
import {
  type ElectorNode,
  NodeStoppedError,
  ProposalDroppedError,
  RequestTimeoutError,
} from "../elector/elector-node.ts";
import { controlServiceDefinition, type ServiceHost } from "../rpc/service-definitions.ts";
import { HandlerRetryError } from "../elector/leader/handler-runner.ts";
import { ConfigError, parseChecks } from "../config/config.ts";
import { SwitchoverError } from "../elector/leader/master-keeper.ts";
import { memberView } from "../coordinator/member-view.ts";
import type { EventFields, JsonValue } from "../coordinator/event-log.ts";
import type { CoordinatorState } from "../coordinator/state-machine.ts";

/** Options of {@link registerControlService}. */
export interface ControlServiceOptions {
  node: ElectorNode;
  state: CoordinatorState;
  logger: Logger;
  /** A client for the control API of the node at `addr` (the leader), for forwarding. */
  connect: (addr: string) => ControlApi;
  /** Deadline for reads, proposals and forwarded calls. */
  requestTimeoutMs: number;
  /** How long a new elector may take to catch up as a learner before it is promoted. */
  catchUpTimeoutMs: number;
  /** SHA-256 of this node's handler configuration (reported in status). */
  handlersDigest: string;
  /** Start a handler run again (the leader's HandlerRunner.retry). */
  retryHandler: (eventId: number, handler: string) => string[];
  /** Ask the leader's master keeper for a switchover (throws SwitchoverError). */
  requestSwitchover: (service: string, member: string) => void;
  /** A member's last reported role for a service (the leader's master keeper). */
  reportedRole: (member: string, service: string) => { state: string; epoch: number } | undefined;
  /** Members that may be master of a service now (the leader's master keeper). */
  candidates: (service: string) => string[];
  /** How long promote and drain wait for master roles to move. */
  switchoverTimeoutMs: number;
}

/** The control API's handlers, independent of gRPC (so they can be called directly in tests). */
export class ControlService {
  private readonly clients = new Map<string, ControlApi>();

  constructor(private readonly o: ControlServiceOptions) {}

  /** Run `local` on the leader, or forward the call to the leader. */
  private async onLeader<T>(local: () => Promise<T>, forward: (c: ControlApi) => Promise<T>): Promise<T> {
    const leader = this.o.node.leader();
    if (leader === this.o.node.id) {
      try {
        return await local();
      } catch (e) {
        // Leadership moved while we worked: let the caller retry against the new leader.
        if (e instanceof NotLeaderError && e.leader !== null && e.leader !== this.o.node.id) {
          return forward(this.client(e.leader));
        }
        throw e;
      }
    }
    if (leader === null) throw new NotLeaderError(null);
    return forward(this.client(leader));
  }

  private client(leader: NodeId): ControlApi {
    const addr = this.o.node.addressOf(leader);
    if (!addr) throw new ControlError(grpc.status.UNAVAILABLE, `no address known for the leader ${leader}`);
    let c = this.clients.get(addr);
    if (!c) {
      c = this.o.connect(addr);
      this.clients.set(addr, c);
    }
    return c;
  }

  /** Close forwarding clients. */
  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }

  kvPut(req: { key: string; value: string }): Promise<{ revision: number }> {
    return this.onLeader(
      async () => {
        const out = await this.o.node.propose({ type: "kv-put", key: req.key, value: req.value });
        if (out.kind !== "result" || out.result.type !== "kv-put")
          throw new Error(`unexpected outcome ${out.kind}`);
        return { revision: out.result.revision };
      },
      (c) => c.kvPut(req.key, req.value),
    );
  }

  kvDelete(req: { key: string }): Promise<{ deleted: boolean; revision: number }> {
    return this.onLeader(
      async () => {
        const out = await this.o.node.propose({ type: "kv-delete", key: req.key });
        if (out.kind !== "result" || out.result.type !== "kv-delete")
          throw new Error(`unexpected outcome ${out.kind}`);
        return { deleted: out.result.deleted, revision: out.result.revision };
      },
      (c) => c.kvDelete(req.key),
    );
  }

  async kvGet(req: { key: string }): Promise<{ found: boolean; value: string; revision: number }> {
    await this.o.node.linearizableBarrier(this.o.requestTimeoutMs);
    const e = this.o.state.kv.get(req.key);
    return e
      ? { found: true, value: e.value, revision: e.revision }
      : { found: false, value: "", revision: 0 };
  }

  async kvList(req: {
    prefix: string;
  }): Promise<{ items: { key: string; value: string; revision: number }[] }> {
    await this.o.node.linearizableBarrier(this.o.requestTimeoutMs);
    return { items: this.o.state.kv.list(req.prefix) };
  }

  /** The leader's view when reachable; this node's own view otherwise. */
  async status(req: { local?: boolean } = {}): Promise<StatusResponse> {
    const leader = this.o.node.leader();
    if (!req.local && leader !== null && leader !== this.o.node.id) {
      try {
        return await this.client(leader).status();
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
      electors: this.electors(),
      members: this.o.state.members.counts(),
      answeredBy: this.o.node.id,
      handlersDigest: this.o.handlersDigest,
    };
  }

  /** Every voter and learner, with the leader's replication progress when this node leads. */
  private electors(): ElectorStatus[] {
    const s = this.o.node.status();
    const isLeader = s.role === "leader";
    const out: ElectorStatus[] = [];
    const add = (name: NodeId, learner: boolean) => {
      const p = s.progress.get(name);
      let role: ElectorStatus["role"] = learner ? "learner" : "follower";
      if (name === s.leader) role = "leader";
      else if (name === this.o.node.id && (s.role === "candidate" || s.role === "pre-candidate"))
        role = "candidate";
      out.push({
        name,
        address: this.o.node.addressOf(name) ?? "",
        role,
        match: p?.match ?? (name === this.o.node.id ? s.lastIndex : 0),
        reachable: name === this.o.node.id || (isLeader ? (p?.recentActive ?? false) : name === s.leader),
      });
    };
    for (const v of s.conf.voters) add(v, false);
    for (const l of s.conf.learners) add(l, true);
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  async electorsList(): Promise<{ electors: ElectorStatus[] }> {
    const st = await this.status();
    return { electors: st.electors };
  }

  /**
   * Add an elector safely: as a learner first (it votes for nothing and counts in no
   * majority), wait until it has caught up with the leader's commit index, then promote it.
   * Idempotent: adding an existing voter returns the list; an existing learner is promoted.
   */
  electorsAdd(req: { name: string; address: string }): Promise<{ electors: ElectorStatus[] }> {
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(req.name)) {
      throw new ControlError(
        grpc.status.INVALID_ARGUMENT,
        `elector name "${req.name}" must be a hostname-like name`,
      );
    }
    if (!/^[^\s:]+:\d{1,5}$|^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(req.address)) {
      throw new ControlError(
        grpc.status.INVALID_ARGUMENT,
        `elector address "${req.address}" must be host:port`,
      );
    }
    return this.onLeader(
      async () => {
        const node = this.o.node;
        let conf = node.status().conf;
        if (!conf.voters.includes(req.name) && !conf.learners.includes(req.name)) {
          await node.proposeConfChange({ type: "add-learner", node: req.name, context: req.address });
          this.o.logger.info({ elector: req.name, address: req.address }, "added an elector as a learner");
        }
        conf = node.status().conf;
        if (conf.learners.includes(req.name)) {
          await this.waitCaughtUp(req.name);
          await node.proposeConfChange({ type: "promote", node: req.name });
          this.o.logger.info({ elector: req.name }, "promoted the learner to voter");
        }
        return { electors: this.electors() };
      },
      (c) => c.electorsAdd(req.name, req.address),
    );
  }

  private async waitCaughtUp(name: NodeId): Promise<void> {
    const deadline = Date.now() + this.o.catchUpTimeoutMs;
    for (;;) {
      const s = this.o.node.status();
      if (s.role !== "leader") throw new NotLeaderError(s.leader);
      const match = s.progress.get(name)?.match ?? 0;
      if (match >= s.commit) return;
      if (Date.now() > deadline) {
        throw new ControlError(
          grpc.status.DEADLINE_EXCEEDED,
          `${name} did not catch up within ${this.o.catchUpTimeoutMs} ms (match ${match}, commit ${s.commit}); it stays a learner — is it running and reachable?`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async members(): Promise<{ members: MemberInfo[] }> {
    await this.o.node.linearizableBarrier(this.o.requestTimeoutMs);
    return {
      members: this.o.state.members.list().map((m) => memberView(m, this.o.state.masters)),
    };
  }

  /** Committed events after `since`, linearizably (at most `limit`, default 1000). */
  async events(req: { since: number; type: string; limit: number }): Promise<{ eventsJson: string[] }> {
    if (req.type !== "" && !isEventType(req.type)) {
      throw new ControlError(grpc.status.INVALID_ARGUMENT, `unknown event type "${req.type}"`);
    }
    await this.o.node.linearizableBarrier(this.o.requestTimeoutMs);
    const limit = req.limit > 0 ? Math.min(req.limit, 10_000) : 1000;
    const events = this.o.state.events.since(req.since, {
      ...(req.type ? { type: req.type as EventType } : {}),
      limit,
    });
    return { eventsJson: events.map((e) => JSON.stringify(e)) };
  }

  /** Recompute this node's hash chain from its anchor and report the first broken link. */
  async auditVerify(): Promise<AuditVerifyResponse> {
    await this.o.node.linearizableBarrier(this.o.requestTimeoutMs);
    const log = this.o.state.events;
    const anchor = log.anchor;
    const verdict = verifyChain(log.since(anchor.id), anchor);
    return verdict.ok
      ? {
          ok: true,
          checked: verdict.checked,
          brokenId: 0,
          reason: "",
          anchorId: anchor.id,
          headHash: log.head.hash,
        }
      : {
          ok: false,
          checked: 0,
          brokenId: verdict.id,
          reason: verdict.reason,
          anchorId: anchor.id,
          headHash: log.head.hash,
        };
  }

  handlersRetry(req: { eventId: number; handler: string }): Promise<{ started: string[] }> {
    return this.onLeader(
      async () => {
        const started = this.o.retryHandler(req.eventId, req.handler);
        if (started.length === 0) {
          throw new ControlError(
            grpc.status.FAILED_PRECONDITION,
            `no failed handler run of event ${req.eventId} to retry`,
          );
        }
        return { started };
      },
      (c) => c.handlersRetry(req.eventId, req.handler),
    );
  }

  /** Propose one event on this (leader) node; resolves when it is committed. */
  private async commitEvent(fields: Omit<EventFields, "time">): Promise<void> {
    await this.o.node.propose({ type: "event", event: { time: new Date().toISOString(), ...fields } });
  }

  /** Poll `done` every 50 ms until it holds; a ControlError naming `what` after the switchover timeout. */
  private async waitFor(what: string, done: () => boolean): Promise<void> {
    const deadline = performance.now() + this.o.switchoverTimeoutMs;
    while (!done()) {
      if (performance.now() > deadline) {
        throw new ControlError(
          grpc.status.DEADLINE_EXCEEDED,
          `timed out after ${this.o.switchoverTimeoutMs} ms waiting for ${what}`,
        );
      }
      if (this.o.node.leader() !== this.o.node.id) throw new NotLeaderError(this.o.node.leader());
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** `member` is the committed master of `service` and reports its promote done. */
  private active(service: string, member: string): boolean {
    const rec = this.o.state.masters.get(service);
    const role = this.o.reportedRole(member, service);
    return rec?.master === member && role?.state === "master" && role.epoch >= rec.epoch;
  }

  promote(req: { service: string; member: string }): Promise<{ epoch: number; previous: string }> {
    return this.onLeader(
      async () => {
        const masters = this.o.state.masters;
        const before = masters.get(req.service)?.master ?? null;
        if (before === req.member) return { epoch: masters.get(req.service)!.epoch, previous: "" };
        try {
          this.o.requestSwitchover(req.service, req.member);
        } catch (e) {
          if (e instanceof SwitchoverError)
            throw new ControlError(grpc.status.FAILED_PRECONDITION, e.message);
          throw e;
        }
        await this.waitFor(`${req.member} to become master of ${req.service}`, () =>
          this.active(req.service, req.member),
        );
        return { epoch: masters.get(req.service)!.epoch, previous: before ?? "" };
      },
      (c) => c.promote(req.service, req.member),
    );
  }

  drain(req: { member: string }): Promise<{ status: string; moved: string[] }> {
    return this.onLeader(
      async () => {
        const m = this.o.state.members.get(req.member);
        if (!m || m.status === "left")
          throw new ControlError(grpc.status.NOT_FOUND, `no member named ${req.member}`);
        const moved = [...this.o.state.masters.mastersOf(req.member).keys()];
        if (!m.drained)
          await this.commitEvent({ type: "member-drained", member: req.member, service: null, details: {} });
        // Moved means: the member is master of nothing, and each service it held has a new
        // master (unless no other member can take it).
        const masters = this.o.state.masters;
        await this.waitFor(
          `the master roles of ${req.member} (${moved.join(", ")}) to move`,
          () =>
            masters.mastersOf(req.member).size === 0 &&
            moved.every((s) => {
              const now = masters.get(s)?.master ?? null;
              return now !== null ? this.active(s, now) : this.o.candidates(s).length === 0;
            }),
        );
        return { status: this.o.state.members.get(req.member)!.status, moved };
      },
      (c) => c.drain(req.member),
    );
  }

  undrain(req: { member: string }): Promise<{ status: string; moved: string[] }> {
    return this.onLeader(
      async () => {
        const m = this.o.state.members.get(req.member);
        if (!m || m.status === "left")
          throw new ControlError(grpc.status.NOT_FOUND, `no member named ${req.member}`);
        if (m.drained)
          await this.commitEvent({
            type: "member-undrained",
            member: req.member,
            service: null,
            details: {},
          });
        return { status: this.o.state.members.get(req.member)!.status, moved: [] };
      },
      (c) => c.undrain(req.member),
    );
  }

  /**
   * Validate and commit cluster-wide checks. The whole set is refused on the first invalid
   * definition (nothing is applied), with a message naming the check and the field.
   */
  checksApply(req: { checksJson: string }): Promise<{ version: number; checksJson: string }> {
    let defs: unknown;
    try {
      defs = JSON.parse(req.checksJson);
    } catch {
      throw new ControlError(grpc.status.INVALID_ARGUMENT, "checks: not a JSON array of check definitions");
    }
    try {
      parseChecks(defs, "checks");
    } catch (e) {
      if (e instanceof ConfigError) throw new ControlError(grpc.status.INVALID_ARGUMENT, e.message);
      throw e;
    }
    const list = (Array.isArray(defs) ? defs : (defs as { checks: unknown[] }).checks) as JsonValue[];
    return this.onLeader(
      async () => {
        await this.commitEvent({
          type: "checks-updated",
          member: null,
          service: null,
          details: { checks: list, names: list.map((c) => (c as { name: string }).name) },
        });
        const c = this.o.state.clusterChecks.get();
        return { version: c.version, checksJson: JSON.stringify(c.checks) };
      },
      (c) => c.checksApply(req.checksJson),
    );
  }

  async checksList(): Promise<{ version: number; checksJson: string }> {
    await this.o.node.linearizableBarrier(this.o.requestTimeoutMs);
    const c = this.o.state.clusterChecks.get();
    return { version: c.version, checksJson: JSON.stringify(c.checks) };
  }

  electorsRemove(req: { name: string }): Promise<{ electors: ElectorStatus[] }> {
    return this.onLeader(
      async () => {
        await this.o.node.proposeConfChange({ type: "remove", node: req.name });
        this.o.logger.info({ elector: req.name }, "removed an elector");
        return { electors: this.electors() };
      },
      (c) => c.electorsRemove(req.name),
    );
  }
}

/** Map a failure to a gRPC status an operator can act on. */
function toServiceError(e: unknown): Partial<grpc.ServiceError> {
  const err = e as Error;
  const status = (code: grpc.status, details: string) => ({ code, details, message: details });
  if (e instanceof ControlError) return status(e.code, e.message);
  if (e instanceof NotLeaderError) {
    return status(
      grpc.status.UNAVAILABLE,
      e.leader === null ? "the cluster has no leader right now" : e.message,
    );
  }
  if (
    e instanceof LeaderTransferringError ||
    e instanceof ProposalDroppedError ||
    e instanceof NodeStoppedError
  ) {
    return status(grpc.status.UNAVAILABLE, err.message);
  }
  if (e instanceof RequestTimeoutError) return status(grpc.status.DEADLINE_EXCEEDED, err.message);
  if (e instanceof BadCommandError) return status(grpc.status.INVALID_ARGUMENT, err.message);
  if (e instanceof ConfChangeRefusedError) return status(grpc.status.FAILED_PRECONDITION, err.message);
  if (e instanceof HandlerRetryError) return status(grpc.status.FAILED_PRECONDITION, err.message);
  return status(grpc.status.INTERNAL, err?.message ?? String(e));
}

/** Serve the control API on `server` through `service`. */
export function registerControlService(server: ServiceHost, service: ControlService, logger: Logger): void {
  const handlers: Record<string, (req: never) => Promise<unknown>> = {
    KvPut: (r) => service.kvPut(r),
    KvGet: (r) => service.kvGet(r),
    KvList: (r) => service.kvList(r),
    KvDelete: (r) => service.kvDelete(r),
    Status: (r) => service.status(r),
    ElectorsList: () => service.electorsList(),
    ElectorsAdd: (r) => service.electorsAdd(r),
    ElectorsRemove: (r) => service.electorsRemove(r),
    Members: () => service.members(),
    Events: (r) => service.events(r),
    AuditVerify: () => service.auditVerify(),
    HandlersRetry: (r) => service.handlersRetry(r),
    Promote: (r) => service.promote(r),
    Drain: (r) => service.drain(r),
    Undrain: (r) => service.undrain(r),
    ChecksApply: (r) => service.checksApply(r),
    ChecksList: () => service.checksList(),
  };
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, fn] of Object.entries(handlers)) {
    const handle: grpc.handleUnaryCall<never, unknown> = (call, callback) => {
      Promise.resolve()
        .then(() => fn(call.request))
        .then(
          (res) => callback(null, res),
          (e: unknown) => {
            const se = toServiceError(e);
            if (se.code === grpc.status.INTERNAL)
              logger.error({ err: e, method: name }, "control call failed");
            callback(se as grpc.ServiceError);
          },
        );
    };
    impl[name] = handle as grpc.handleUnaryCall<unknown, unknown>;
  }
  server.addService(controlServiceDefinition(), impl);
}
