/**
 * The write side of the control API. Every write runs on the leader: a follower forwards the
 * call (through {@link LeaderForwarder}) and relays the answer, so a client may talk to any
 * node. Writes that change the cluster's roles (promote, drain) resolve only once the cluster
 * has got there — the new master reports its promote done — or fail with DEADLINE_EXCEEDED
 * after the switchover timeout.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { NotLeaderError } from "../../raft/index.ts";
import { parseChecks } from "../config/check-schema.ts";
import { ConfigError } from "../config/config-error.ts";
import type { JsonValue } from "../contract/canonical-json.ts";
import type { CoordinatorState } from "../coordinator/state-machine.ts";
import type { CommitEvent } from "../elector/event-stamp.ts";
import { SwitchoverError } from "../elector/leader/master-keeper.ts";
import { UnexpectedOutcomeError } from "../elector/node-errors.ts";
import {
  type ControlClock,
  type ControlNode,
  type LeaderForwarder,
  POLL_MS,
  systemControlClock,
} from "./control-node.ts";
import { checksResponse } from "./checks-response.ts";
import { type ChecksResponse, ControlError } from "./control-types.ts";

/** Options of {@link ControlCommands}. */
export interface ControlCommandOptions {
  readonly node: ControlNode;
  readonly state: CoordinatorState;
  readonly logger: Logger;
  /** Commit an event decided here (stamped by the one time rule, elector/event-stamp.ts). */
  readonly commitEvent: CommitEvent;
  /** How long promote and drain wait for master roles to move. */
  readonly switchoverTimeoutMs: number;
  /** Start a handler run again (the leader's HandlerRunner.retry; throws HandlerRetryError). */
  readonly retryHandler: (eventId: number, handler: string) => string[];
  /** Ask the leader's master keeper for a switchover (throws SwitchoverError). */
  readonly requestSwitchover: (service: string, member: string) => void;
  /** A member's last reported role for a service (the leader's master keeper). */
  readonly reportedRole: (member: string, service: string) => { state: string; epoch: number } | undefined;
  /** Members that may be master of a service now (the leader's master keeper). */
  readonly candidates: (service: string) => string[];
  /** The clock waits poll on; the system clock when absent. */
  readonly clock?: ControlClock;
}

/** The control API's writes (except elector membership: control-electors.ts), independent of gRPC. */
export class ControlCommands {
  private readonly clock: ControlClock;

  constructor(
    private readonly o: ControlCommandOptions,
    private readonly forwarder: LeaderForwarder,
  ) {
    this.clock = o.clock ?? systemControlClock;
  }

  /** Set a key; resolves with the revision (log index) that wrote it. */
  kvPut(req: { key: string; value: string }): Promise<{ revision: number }> {
    return this.forwarder.onLeader(
      async () => {
        const out = await this.o.node.propose({ type: "kv-put", key: req.key, value: req.value });
        if (out.kind !== "result" || out.result.type !== "kv-put")
          throw new UnexpectedOutcomeError("kv-put", out);
        return { revision: out.result.revision };
      },
      (c) => c.kvPut(req.key, req.value),
    );
  }

  /** Delete a key; `deleted` says whether it existed. */
  kvDelete(req: { key: string }): Promise<{ deleted: boolean; revision: number }> {
    return this.forwarder.onLeader(
      async () => {
        const out = await this.o.node.propose({ type: "kv-delete", key: req.key });
        if (out.kind !== "result" || out.result.type !== "kv-delete")
          throw new UnexpectedOutcomeError("kv-delete", out);
        return { deleted: out.result.deleted, revision: out.result.revision };
      },
      (c) => c.kvDelete(req.key),
    );
  }

  /**
   * Run a failed handler of an event again (every failed one when `handler` is empty).
   * @throws ControlError (FAILED_PRECONDITION) when there is nothing to retry
   */
  handlersRetry(req: { eventId: number; handler: string }): Promise<{ started: string[] }> {
    return this.forwarder.onLeader(
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

  /** Poll `done` until it holds; a ControlError naming `what` after the switchover timeout. */
  private async waitFor(what: string, done: () => boolean): Promise<void> {
    const deadline = this.clock.now() + this.o.switchoverTimeoutMs;
    while (!done()) {
      if (this.clock.now() > deadline) {
        throw new ControlError(
          grpc.status.DEADLINE_EXCEEDED,
          `timed out after ${this.o.switchoverTimeoutMs} ms waiting for ${what}`,
        );
      }
      if (this.o.node.leader() !== this.o.node.id) throw new NotLeaderError(this.o.node.leader());
      await this.clock.sleep(POLL_MS);
    }
  }

  /** `member` is the committed master of `service` and reports its promote done. */
  private mastering(service: string, member: string): boolean {
    const rec = this.o.state.masters.get(service);
    const role = this.o.reportedRole(member, service);
    return rec?.master === member && role?.state === "master" && role.epoch >= rec.epoch;
  }

  /**
   * Planned switchover: make `member` the master of `service`; resolves once it is the
   * committed master and reports its promote done.
   * @throws ControlError (FAILED_PRECONDITION) when `member` cannot be master now
   */
  promote(req: { service: string; member: string }): Promise<{ epoch: number; previous: string }> {
    return this.forwarder.onLeader(
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
          this.mastering(req.service, req.member),
        );
        return { epoch: masters.get(req.service)!.epoch, previous: before ?? "" };
      },
      (c) => c.promote(req.service, req.member),
    );
  }

  /**
   * Maintenance mode on: commit member-drained (once), then wait until the member is master
   * of nothing and each service it held has a new master (unless no other member can take it).
   * @throws ControlError (NOT_FOUND) for an unknown or departed member
   */
  drain(req: { member: string }): Promise<{ status: string; moved: string[] }> {
    return this.forwarder.onLeader(
      async () => {
        const m = this.o.state.members.get(req.member);
        if (!m || m.status === "left")
          throw new ControlError(grpc.status.NOT_FOUND, `no member named ${req.member}`);
        const moved = [...this.o.state.masters.mastersOf(req.member).keys()];
        if (!m.maintenance)
          await this.o.commitEvent({
            type: "member-drained",
            member: req.member,
            service: null,
            details: {},
          });
        const masters = this.o.state.masters;
        await this.waitFor(
          `the master roles of ${req.member} (${moved.join(", ")}) to move`,
          () =>
            masters.mastersOf(req.member).size === 0 &&
            moved.every((s) => {
              const now = masters.get(s)?.master ?? null;
              return now !== null ? this.mastering(s, now) : this.o.candidates(s).length === 0;
            }),
        );
        return { status: this.o.state.members.get(req.member)!.status, moved };
      },
      (c) => c.drain(req.member),
    );
  }

  /**
   * Maintenance mode off: commit member-undrained when the member is drained (a member that
   * is not drained is left alone, so the call is idempotent).
   * @throws ControlError (NOT_FOUND) for an unknown or departed member
   */
  undrain(req: { member: string }): Promise<{ status: string; moved: string[] }> {
    return this.forwarder.onLeader(
      async () => {
        const m = this.o.state.members.get(req.member);
        if (!m || m.status === "left")
          throw new ControlError(grpc.status.NOT_FOUND, `no member named ${req.member}`);
        if (m.maintenance)
          await this.o.commitEvent({
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
   * Validation runs on the node asked, so a follower refuses a bad set without a round trip.
   * @throws ControlError (INVALID_ARGUMENT) for JSON that is not a valid set of checks
   */
  checksApply(req: { checksJson: string }): Promise<ChecksResponse> {
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
    return this.forwarder.onLeader(
      async () => {
        await this.o.commitEvent({
          type: "checks-updated",
          member: null,
          service: null,
          details: { checks: list, names: list.map((c) => (c as { name: string }).name) },
        });
        return checksResponse(this.o.state);
      },
      (c) => c.checksApply(req.checksJson),
    );
  }
}
