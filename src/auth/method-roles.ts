/**
 * Which roles may call which gRPC method: every method of every service a node serves is in
 * {@link METHOD_ROLES}, and a method missing from it is refused to everyone (the interceptor
 * denies by default, so a new method must be placed here before anyone can call it;
 * test/unit/auth/method-roles.test.ts compares the table with the service definitions).
 *
 * - Raft peers: electors only (and the peer service also checks `from`, raft-peer-service.ts).
 * - Member reports: members only (and the member service checks the name, member-service.ts).
 * - Control reads (nothing changes): readers, operators and electors.
 * - Control writes (everything else): operators and electors. Electors call the control API
 *   of the leader when they forward a call (control-node.ts `LeaderForwarder`); the forwarded
 *   call was authorized on the elector that received it.
 *
 * The first role of each list is the one a refusal names: the least privileged that suffices.
 */
import type { AuthRole } from "./auth-role.ts";

/** Roles of a control call that changes nothing. */
const READ: readonly AuthRole[] = ["reader", "operator", "elector"];
/** Roles of a control call that changes the cluster. */
const WRITE: readonly AuthRole[] = ["operator", "elector"];

const CONTROL = "/conclave.control.Control/";

/** Each method path and the roles that may call it. */
export const METHOD_ROLES: Readonly<Record<string, readonly AuthRole[]>> = {
  "/conclave.raft.RaftPeer/Stream": ["elector"],
  "/conclave.member.MemberReports/Report": ["member"],
  [`${CONTROL}Status`]: READ,
  [`${CONTROL}KvGet`]: READ,
  [`${CONTROL}KvList`]: READ,
  [`${CONTROL}ElectorsList`]: READ,
  [`${CONTROL}Members`]: READ,
  [`${CONTROL}Events`]: READ,
  [`${CONTROL}AuditVerify`]: READ,
  [`${CONTROL}ChecksList`]: READ,
  [`${CONTROL}KvPut`]: WRITE,
  [`${CONTROL}KvDelete`]: WRITE,
  [`${CONTROL}ElectorsAdd`]: WRITE,
  [`${CONTROL}ElectorsRemove`]: WRITE,
  [`${CONTROL}HandlersRetry`]: WRITE,
  [`${CONTROL}Promote`]: WRITE,
  [`${CONTROL}Drain`]: WRITE,
  [`${CONTROL}Undrain`]: WRITE,
  [`${CONTROL}ChecksApply`]: WRITE,
};

/** The roles that may call `path`, or an empty list (nobody) for a path not in the table. */
export function rolesForMethod(path: string): readonly AuthRole[] {
  return Object.hasOwn(METHOD_ROLES, path) ? METHOD_ROLES[path]! : [];
}
