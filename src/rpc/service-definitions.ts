/**
 * The grpc-js definitions of Conclave's gRPC services, loaded from `proto/`, and the seam a
 * service is registered on. Clients and servers of each service take its definition from
 * here, so the two sides cannot disagree (the Raft peer service, hand-coded for its binary
 * frames, is `RAFT_PEER_SERVICE` in transport/raft-wire.ts).
 */
import type * as grpc from "@grpc/grpc-js";
import { loadProto, serviceDefinition } from "./proto-files.ts";

/** Something with grpc-js's `addService` (a `grpc.Server` or a `GrpcServer`). */
export interface ServiceHost {
  addService(definition: grpc.ServiceDefinition, implementation: grpc.UntypedServiceImplementation): void;
}

/** The grpc-js service definition of `conclave.member.MemberReports` (proto/member.proto). */
export function memberServiceDefinition(): grpc.ServiceDefinition {
  return serviceDefinition(loadProto("member"), "conclave.member.MemberReports");
}

/** The grpc-js service definition of `conclave.control.Control` (proto/control.proto). */
export function controlServiceDefinition(): grpc.ServiceDefinition {
  return serviceDefinition(loadProto("control"), "conclave.control.Control");
}
