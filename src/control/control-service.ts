/**
 * The control API served by every elector (proto/control.proto), independent of gRPC: reads
 * in {@link ControlQueries} (linearizable, answered by the node asked), writes in
 * {@link ControlCommands} and elector membership in {@link ControlElectors} (both run on the
 * leader; a follower forwards them), all over one {@link LeaderForwarder}. control-grpc.ts
 * puts it on a gRPC server; unit tests call it directly with a fake node.
 */
import { ControlCommands, type ControlCommandOptions } from "./control-commands.ts";
import { ControlElectors, type ControlElectorOptions } from "./control-electors.ts";
import { LeaderForwarder } from "./control-node.ts";
import { ControlQueries, type ControlQueryOptions } from "./control-queries.ts";
import type { ControlApi, StatusResponse } from "./control-types.ts";

/** Options of {@link ControlService}: those of its reads and writes, and how to reach the leader. */
export interface ControlServiceOptions
  extends ControlQueryOptions, ControlCommandOptions, ControlElectorOptions {
  /** A client for the control API of the node at `addr` (the leader), for forwarding. */
  readonly connect: (addr: string) => ControlApi;
}

/** The control API's handlers on one elector. */
export class ControlService {
  /** Reads: KV, status, members, events, audit, checks. */
  readonly queries: ControlQueries;
  /** Writes: KV, handler retries, promote, drain, checks. */
  readonly commands: ControlCommands;
  /** Elector membership: add (learner first), remove. */
  readonly electors: ControlElectors;
  private readonly forwarder: LeaderForwarder;

  constructor(options: ControlServiceOptions) {
    this.forwarder = new LeaderForwarder({ node: options.node, connect: options.connect });
    this.queries = new ControlQueries(options, this.forwarder);
    this.commands = new ControlCommands(options, this.forwarder);
    this.electors = new ControlElectors(options, this.forwarder);
  }

  /** The leader's view when reachable; this node's own otherwise (or with `local`). */
  status(req: { local?: boolean } = {}): Promise<StatusResponse> {
    return this.queries.status(req);
  }

  /** Close the clients used to forward calls to the leader. */
  close(): void {
    this.forwarder.close();
  }
}
