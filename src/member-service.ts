/**
 * The elector side of the member report stream (proto/member.proto). Only the leader keeps
 * member streams: a follower answers a registration with a redirect to the leader (or ends
 * the stream when it knows no leader, so the member tries the next elector). On the leader,
 * registrations and heartbeats feed the {@link MemberTracker}; when leadership moves, every
 * stream is ended so members reconnect and are redirected to the new leader.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { NodeId } from "../raft/index.ts";
import type { ServiceHost } from "./grpc-peer-transport.ts";
import { memberServiceDefinition } from "./member-agent.ts";
import type { MemberTracker } from "./member-tracker.ts";

/** What the member service needs to know about the local elector. */
export interface LeaderInfo {
  readonly id: NodeId;
  leader(): NodeId | null;
  addressOf(id: NodeId): string | undefined;
  onLeaderChange(listener: (leader: NodeId | null, term: number) => void): () => void;
}

interface Report {
  register?: { name: string; address: string; services: string[]; checks: Record<string, string> };
  heartbeat?: { seq: number };
  leave?: object;
}

type Stream = grpc.ServerDuplexStream<Report, object>;

/** Longest member name accepted: names are host names. */
const MAX_NAME = 253;

/** Serve MemberReports on `server`. Returns a function that ends every member stream. */
export function registerMemberService(
  server: ServiceHost,
  options: { node: LeaderInfo; tracker: MemberTracker; logger: Logger },
): () => void {
  const { node, tracker, logger } = options;
  const streams = new Set<Stream>();
  const endAll = () => {
    for (const s of streams) s.end();
    streams.clear();
  };
  node.onLeaderChange(() => endAll());

  const report = (call: Stream) => {
    let name: string | null = null;
    /** Registered on a follower that knows no leader: held open until a leader is known. */
    let held = false;
    streams.add(call);
    const finish = (err?: { code: grpc.status; details: string }) => {
      streams.delete(call);
      if (err) call.destroy(Object.assign(new Error(err.details), err));
      else call.end();
    };
    call.on("data", (r: Report) => {
      if (held) return; // heartbeats while waiting for an election to finish
      if (name === null) {
        const reg = r.register;
        if (!reg || typeof reg.name !== "string" || reg.name === "" || reg.name.length > MAX_NAME) {
          logger.warn(
            { peer: call.getPeer() },
            "refused a member stream that did not start with a valid registration",
          );
          finish({
            code: grpc.status.INVALID_ARGUMENT,
            details: "the first message must register a member name",
          });
          return;
        }
        const leader = node.leader();
        if (leader === null) {
          // An election is under way: keep the member here. When a leader is known, every
          // stream is ended (see onLeaderChange) and the member, reconnecting at once, is
          // redirected. Ending now would only make it back off and arrive late.
          held = true;
          return;
        }
        if (leader !== node.id) {
          call.write({ redirect: { leader, leaderAddress: node.addressOf(leader) ?? "" } });
          finish();
          return;
        }
        name = reg.name;
        tracker.registered({
          name,
          address: reg.address,
          services: reg.services ?? [],
          checks: reg.checks ?? {},
        });
        call.write({ ack: { seq: 0, leader: node.id, leaderAddress: node.addressOf(node.id) ?? "" } });
        return;
      }
      if (r.heartbeat) {
        tracker.heard(name);
        call.write({ ack: { seq: r.heartbeat.seq, leader: node.id, leaderAddress: "" } });
      } else if (r.leave) {
        tracker.left(name);
        logger.info({ member: name }, "member left");
        finish();
      }
    });
    call.on("end", () => finish());
    call.on("error", () => streams.delete(call));
    call.on("cancelled", () => streams.delete(call));
  };
  server.addService(memberServiceDefinition(), { Report: report });
  return endAll;
}
