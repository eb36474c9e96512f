/**
 * The control API on gRPC: each proto method is mapped to the {@link ControlService} call that
 * answers it, and each failure to a status code an operator (or the CLI's retry loop) can act
 * on: UNAVAILABLE for "try again, perhaps elsewhere" (no leader, leadership moving, a
 * proposal dropped, the node stopping), DEADLINE_EXCEEDED, INVALID_ARGUMENT for a bad request,
 * FAILED_PRECONDITION for a request the cluster's state refuses, RESOURCE_EXHAUSTED for one past
 * a size or count limit (the message names it: "kv quota exceeded: ..."), INTERNAL for a bug
 * (logged).
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ConfChangeRefusedError, LeaderTransferringError, NotLeaderError } from "../../raft/index.ts";
import { BadCommandError } from "../coordinator/commands.ts";
import { LimitExceededError } from "../coordinator/command-limits.ts";
import { ConfChangeEntryError } from "../elector/elector-node.ts";
import { HandlerRetryError } from "../elector/leader/handler-runner.ts";
import { NodeStoppedError, ProposalDroppedError, RequestTimeoutError } from "../elector/node-errors.ts";
import { controlServiceDefinition, type ServiceHost } from "../rpc/service-definitions.ts";
import type { ControlService } from "./control-service.ts";
import { ControlError } from "./control-types.ts";

/** Map a failure to a gRPC status an operator can act on. */
export function toServiceError(e: unknown): Partial<grpc.ServiceError> {
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
  if (e instanceof ConfChangeEntryError) return status(grpc.status.INVALID_ARGUMENT, err.message);
  if (e instanceof LimitExceededError) return status(grpc.status.RESOURCE_EXHAUSTED, err.message);
  if (e instanceof ConfChangeRefusedError) return status(grpc.status.FAILED_PRECONDITION, err.message);
  if (e instanceof HandlerRetryError) return status(grpc.status.FAILED_PRECONDITION, err.message);
  return status(grpc.status.INTERNAL, err?.message ?? String(e));
}

/** Each method of `conclave.control.Control` and the call that answers it. */
function methods(service: ControlService): Record<string, (req: never) => Promise<unknown>> {
  const { queries: q, commands: c, electors: e } = service;
  return {
    KvPut: (r) => c.kvPut(r),
    KvGet: (r) => q.kvGet(r),
    KvList: (r) => q.kvList(r),
    KvDelete: (r) => c.kvDelete(r),
    Status: (r) => q.status(r),
    ElectorsList: () => q.electorsList(),
    ElectorsAdd: (r) => e.electorsAdd(r),
    ElectorsRemove: (r) => e.electorsRemove(r),
    Members: () => q.members(),
    Events: (r) => q.events(r),
    AuditVerify: () => q.auditVerify(),
    HandlersRetry: (r) => c.handlersRetry(r),
    Promote: (r) => c.promote(r),
    Drain: (r) => c.drain(r),
    Undrain: (r) => c.undrain(r),
    ChecksApply: (r) => c.checksApply(r),
    ChecksList: () => q.checksList(),
  };
}

/** Serve the control API on `server` through `service`. */
export function registerControlService(server: ServiceHost, service: ControlService, logger: Logger): void {
  const impl: grpc.UntypedServiceImplementation = {};
  for (const [name, fn] of Object.entries(methods(service))) {
    const handle: grpc.handleUnaryCall<never, unknown> = (call, callback) => {
      // Through a promise, so a call that throws synchronously (a validation error) is
      // answered like one that rejects.
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
