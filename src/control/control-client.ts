/**
 * A client of the control API (proto/control.proto), used by the CLI and by followers
 * forwarding calls to the leader. Every call carries the cluster token; a call that finds
 * the cluster without a leader (UNAVAILABLE) is retried with backoff until its deadline,
 * since an election usually ends within a second or two.
 */
import * as grpc from "@grpc/grpc-js";
import {
  type AuditVerifyResponse,
  type ChecksResponse,
  type ControlApi,
  ControlError,
  type ElectorStatus,
  type KvItem,
  type MemberInfo,
  type StatusResponse,
} from "./control-types.ts";
import { tokenMetadata } from "../rpc/grpc-auth.ts";
import { createClientCredentials, serverNameOptions, type TlsSource } from "../rpc/grpc-credentials.ts";
import { createChannelOptions } from "../rpc/channel-options.ts";
import { controlServiceDefinition } from "../rpc/service-definitions.ts";

/** Options of {@link connectControl}. */
export interface ControlClientOptions {
  /** `host:port` of any node. */
  addr: string;
  token: string;
  tls?: TlsSource;
  /** Deadline of each call, retries included. Default 5000 ms. */
  timeoutMs?: number;
  /** Retry UNAVAILABLE answers until the deadline (default true; forwarding nodes pass false). */
  retryUnavailable?: boolean;
}

type Unary = (
  request: object,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: object) => void,
) => grpc.ClientUnaryCall;

let clientConstructor: grpc.ServiceClientConstructor | undefined;

/** Connect to a node's control API. The channel connects lazily, on the first call. */
export function connectControl(options: ControlClientOptions): ControlApi {
  clientConstructor ??= grpc.makeGenericClientConstructor(controlServiceDefinition(), "Control");
  const client = new clientConstructor(
    options.addr,
    createClientCredentials(options.tls, { address: options.addr }),
    { ...createChannelOptions(), ...serverNameOptions(options.addr, options.tls) },
  ) as unknown as grpc.Client & Record<string, Unary>;
  const timeoutMs = options.timeoutMs ?? 5000;
  const retry = options.retryUnavailable ?? true;

  /** Switchover and drain wait for a master to move: up to a lease and a member timeout or two. */
  const slowMs = Math.max(timeoutMs, 60_000);
  const call = async <T>(method: string, request: object, callTimeoutMs = timeoutMs): Promise<T> => {
    const deadline = Date.now() + callTimeoutMs;
    let delay = 100;
    for (;;) {
      try {
        return await new Promise<T>((resolve, reject) => {
          client[method]!(request, tokenMetadata(options.token), { deadline }, (err, res) => {
            if (err) reject(err);
            else resolve(res as T);
          });
        });
      } catch (e) {
        const err = e as grpc.ServiceError;
        const retriable = retry && err.code === grpc.status.UNAVAILABLE && Date.now() + delay < deadline;
        if (!retriable) throw toControlError(err, options.addr);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 1000);
      }
    }
  };

  return {
    kvPut: (key, value) => call<{ revision: number }>("KvPut", { key, value }),
    kvGet: (key) => call<{ found: boolean; value: string; revision: number }>("KvGet", { key }),
    kvList: (prefix) => call<{ items: KvItem[] }>("KvList", { prefix }),
    kvDelete: (key) => call<{ deleted: boolean; revision: number }>("KvDelete", { key }),
    status: (local = false) => call<StatusResponse>("Status", { local }),
    electorsList: () => call<{ electors: ElectorStatus[] }>("ElectorsList", {}),
    electorsAdd: (name, address) => call<{ electors: ElectorStatus[] }>("ElectorsAdd", { name, address }),
    electorsRemove: (name) => call<{ electors: ElectorStatus[] }>("ElectorsRemove", { name }),
    members: () => call<{ members: MemberInfo[] }>("Members", {}),
    events: (since, type, limit) => call<{ eventsJson: string[] }>("Events", { since, type, limit }),
    auditVerify: () => call<AuditVerifyResponse>("AuditVerify", {}),
    handlersRetry: (eventId, handler) => call<{ started: string[] }>("HandlersRetry", { eventId, handler }),
    promote: (service, member) =>
      call<{ epoch: number; previous: string }>("Promote", { service, member }, slowMs),
    drain: (member) => call<{ status: string; moved: string[] }>("Drain", { member }, slowMs),
    undrain: (member) => call<{ status: string; moved: string[] }>("Undrain", { member }),
    checksApply: (checksJson) => call<ChecksResponse>("ChecksApply", { checksJson }),
    checksList: () => call<ChecksResponse>("ChecksList", {}),
    close: () => client.close(),
  };
}

/** A gRPC failure as a ControlError whose message an operator can act on. */
function toControlError(err: grpc.ServiceError, addr: string): ControlError {
  const details = err.details || err.message;
  switch (err.code) {
    case grpc.status.UNAUTHENTICATED:
      // The server's details never include a credential (call-authenticator.ts).
      return new ControlError(
        err.code,
        `${addr} refused the call: ${err.details || "missing or wrong cluster token"} (check --token-file)`,
      );
    case grpc.status.PERMISSION_DENIED:
      // "needs role operator; called as reader/grafana" (auth-interceptor.ts).
      return new ControlError(err.code, `${addr} refused the call: ${details}`);
    case grpc.status.DEADLINE_EXCEEDED:
      return new ControlError(err.code, `${addr} did not answer in time: ${details}`);
    case grpc.status.UNAVAILABLE:
      return new ControlError(err.code, `${addr}: ${details}`);
    default:
      return new ControlError(err.code, details);
  }
}
