/**
 * What the control service needs of the elector it runs on, and the parts its reads and
 * writes share: the node seam ({@link ControlNode}, an ElectorNode in production and a fake in
 * unit tests), forwarding a call to the leader ({@link LeaderForwarder}), the electors' status
 * table, and the clock its waits poll on.
 */
import * as grpc from "@grpc/grpc-js";
import { type NodeId, NotLeaderError } from "../../raft/index.ts";
import type { ElectorNode, PeerContact } from "../elector/elector-node.ts";
import { type ControlApi, ControlError, type ElectorStatus } from "./control-types.ts";

/** The parts of the local {@link ElectorNode} the control service uses. */
export type ControlNode = Pick<
  ElectorNode,
  | "id"
  | "leader"
  | "addressOf"
  | "status"
  | "peerContact"
  | "propose"
  | "proposeConfChange"
  | "linearizableBarrier"
>;

/** The clock the control service's waits poll on (the seam for tests). */
export interface ControlClock {
  /** Monotonic milliseconds. */
  now(): number;
  /** Resolve after `ms` on this clock. */
  sleep(ms: number): Promise<void>;
}

/** performance.now and setTimeout. */
export const systemControlClock: ControlClock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** How often a wait for the cluster to reach some state looks again. */
export const POLL_MS = 50;

/** Options of {@link LeaderForwarder}. */
export interface LeaderForwarderOptions {
  readonly node: Pick<ControlNode, "id" | "leader" | "addressOf">;
  /** A client for the control API of the node at `addr` (the leader), for forwarding. */
  readonly connect: (addr: string) => ControlApi;
}

/**
 * Runs a call on the leader: here when this node leads, otherwise through a client of the
 * leader's control API. Clients are kept per address until {@link close}.
 */
export class LeaderForwarder {
  private readonly clients = new Map<string, ControlApi>();

  constructor(private readonly o: LeaderForwarderOptions) {}

  /**
   * Run `local` on the leader, or `forward` on a client of the leader.
   * @throws NotLeaderError (leader null) when no leader is known
   */
  async onLeader<T>(local: () => Promise<T>, forward: (c: ControlApi) => Promise<T>): Promise<T> {
    const leader = this.o.node.leader();
    if (leader === this.o.node.id) {
      try {
        return await local();
      } catch (e) {
        // Leadership moved while we worked: carry the call to the new leader.
        if (e instanceof NotLeaderError && e.leader !== null && e.leader !== this.o.node.id) {
          return forward(this.client(e.leader));
        }
        throw e;
      }
    }
    if (leader === null) throw new NotLeaderError(null);
    return forward(this.client(leader));
  }

  /**
   * A client of `leader`'s control API (one per address, reused).
   * @throws ControlError (UNAVAILABLE) when no address is known for it
   */
  client(leader: NodeId): ControlApi {
    const addr = this.o.node.addressOf(leader);
    if (!addr) throw new ControlError(grpc.status.UNAVAILABLE, `no address known for the leader ${leader}`);
    let c = this.clients.get(addr);
    if (!c) {
      c = this.o.connect(addr);
      this.clients.set(addr, c);
    }
    return c;
  }

  /** Close the clients. */
  close(): void {
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}

/**
 * Whether `peer` is reachable in the view of this node, from when it last heard from it:
 * - heard from within the window (one election timeout): true. A leader sends every peer a
 *   heartbeat each Raft tick and hears the answer; a follower hears the leader as often.
 *   Raft itself gives up on a silent peer after the same timeout (a follower campaigns, a
 *   leader with check-quorum steps down).
 * - not heard from, on a node that has led for at least the window: false. Only the leader
 *   expects to hear from everyone, so only its silence means something.
 * - otherwise null, unknown: a follower hears the other followers only during elections, and
 *   a leader that has just taken over (or just restarted) has not yet waited a whole window.
 *
 * Raft's own `recentActive` is not used: check-quorum clears it at every election timeout,
 * so a status read just after the check shows every healthy peer as inactive until its next
 * answer, and it counts only answers to the leader's appends, not a peer's other messages
 * (the votes of a peer whose stream from the leader is still reconnecting after a restart).
 */
export function reachability(contact: PeerContact, peer: NodeId): boolean | null {
  const window = contact.electionTimeoutMs;
  const since = contact.sinceHeardMs.get(peer);
  if (since !== undefined && since <= window) return true;
  if (contact.leadingForMs !== null && contact.leadingForMs >= window) return false;
  return null;
}

/**
 * Every voter and learner, sorted by name, as this node sees it: `reachable` by
 * {@link reachability} (this node itself always true), and `match` from the leader's
 * replication progress, so only on the leader (null on any other node).
 */
export function electorStatuses(
  node: Pick<ControlNode, "id" | "status" | "addressOf" | "peerContact">,
): ElectorStatus[] {
  const s = node.status();
  const contact = node.peerContact();
  const isLeader = s.role === "leader";
  const out: ElectorStatus[] = [];
  const add = (name: NodeId, learner: boolean) => {
    let role: ElectorStatus["role"] = learner ? "learner" : "follower";
    if (name === s.leader) role = "leader";
    else if (name === node.id && (s.role === "candidate" || s.role === "pre-candidate")) role = "candidate";
    out.push({
      name,
      address: node.addressOf(name) ?? "",
      role,
      match: isLeader ? (s.progress.get(name)?.match ?? (name === node.id ? s.lastIndex : 0)) : null,
      reachable: name === node.id ? true : reachability(contact, name),
    });
  };
  for (const v of s.conf.voters) add(v, false);
  for (const l of s.conf.learners) add(l, true);
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}
