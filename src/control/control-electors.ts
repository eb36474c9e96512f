/**
 * Elector membership through the control API: adding an elector (as a learner first, promoted
 * once it has caught up, so a new node never counts in a majority before it holds the log) and
 * removing one. Both run on the leader; a follower forwards them.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { type NodeId, NotLeaderError } from "../../raft/index.ts";
import {
  type ControlClock,
  type ControlNode,
  electorStatuses,
  type LeaderForwarder,
  POLL_MS,
  systemControlClock,
} from "./control-node.ts";
import { HostPortError, isWildcardHost, splitHostPort } from "../config/host-port.ts";
import { nameProblem } from "../config/schema-fields.ts";
import { ControlError, type ElectorStatus } from "./control-types.ts";

/**
 * Why `address` cannot be an elector's address, or null: it must be `host:port` by the one
 * address rule and reachable by other nodes (not an any-address), as `cluster.electors` requires.
 */
function electorAddressProblem(address: string): string | null {
  try {
    if (isWildcardHost(splitHostPort(address).host)) return `must be an address other nodes can reach`;
    return null;
  } catch (err) {
    if (err instanceof HostPortError) return err.message;
    throw err;
  }
}

/** Options of {@link ControlElectors}. */
export interface ControlElectorOptions {
  readonly node: ControlNode;
  readonly logger: Logger;
  /** How long a new elector may take to catch up as a learner before it is promoted. */
  readonly catchUpTimeoutMs: number;
  /** The clock the catch-up wait polls on; the system clock when absent. */
  readonly clock?: ControlClock;
}

/** The control API's elector membership changes, independent of gRPC. */
export class ControlElectors {
  private readonly clock: ControlClock;

  constructor(
    private readonly o: ControlElectorOptions,
    private readonly forwarder: LeaderForwarder,
  ) {
    this.clock = o.clock ?? systemControlClock;
  }

  /**
   * Add an elector safely: as a learner first (it votes for nothing and counts in no
   * majority), wait until it has caught up with the leader's commit index, then promote it.
   * Idempotent: adding an existing voter returns the list; an existing learner is promoted.
   * @throws ControlError (INVALID_ARGUMENT) for a name or address of the wrong shape
   */
  electorsAdd(req: { name: string; address: string }): Promise<{ electors: ElectorStatus[] }> {
    const nameIssue = nameProblem("elector", req.name);
    if (nameIssue !== null) throw new ControlError(grpc.status.INVALID_ARGUMENT, nameIssue);
    const addressIssue = electorAddressProblem(req.address);
    if (addressIssue !== null) {
      throw new ControlError(grpc.status.INVALID_ARGUMENT, `elector address: ${addressIssue}`);
    }
    return this.forwarder.onLeader(
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
        return { electors: electorStatuses(node) };
      },
      (c) => c.electorsAdd(req.name, req.address),
    );
  }

  /** Until the learner `name` has everything the leader has committed. */
  private async waitCaughtUp(name: NodeId): Promise<void> {
    const deadline = this.clock.now() + this.o.catchUpTimeoutMs;
    for (;;) {
      const s = this.o.node.status();
      if (s.role !== "leader") throw new NotLeaderError(s.leader);
      const match = s.progress.get(name)?.match ?? 0;
      if (match >= s.commit) return;
      if (this.clock.now() > deadline) {
        throw new ControlError(
          grpc.status.DEADLINE_EXCEEDED,
          `${name} did not catch up within ${this.o.catchUpTimeoutMs} ms (match ${match}, commit ${s.commit}); it stays a learner — is it running and reachable?`,
        );
      }
      await this.clock.sleep(POLL_MS);
    }
  }

  /** Remove a voter or learner from the Raft group. */
  electorsRemove(req: { name: string }): Promise<{ electors: ElectorStatus[] }> {
    return this.forwarder.onLeader(
      async () => {
        await this.o.node.proposeConfChange({ type: "remove", node: req.name });
        this.o.logger.info({ elector: req.name }, "removed an elector");
        return { electors: electorStatuses(this.o.node) };
      },
      (c) => c.electorsRemove(req.name),
    );
  }
}
