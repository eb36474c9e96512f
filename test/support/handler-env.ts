/**
 * The CONCLAVE_* environment the leader gives a handler, for tests that run a shipped handler
 * as a child process: a member-down of web2 (event 42, fence 3:57), with overrides.
 */

/** The twelve contract variables for a member-down of web2, with `overrides` applied. */
export function memberDownEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    CONCLAVE_EVENT: "member-down",
    CONCLAVE_EVENT_ID: "42",
    CONCLAVE_TERM: "3",
    CONCLAVE_FENCE: "3:57",
    CONCLAVE_ATTEMPT: "2",
    CONCLAVE_HANDLER: "notify",
    CONCLAVE_MEMBER: "web2",
    CONCLAVE_MEMBER_ADDRESS: "10.0.0.2:7400",
    CONCLAVE_SERVICE: "",
    CONCLAVE_CLUSTER: "test-cluster",
    CONCLAVE_COVERS: "42",
    CONCLAVE_DRY_RUN: "",
    ...overrides,
  };
}

/** The input of `handlerEnvironment` for attempt 2 of handler dns on a member-down of web2. */
export const SAMPLE_ENV_INPUT = {
  event: { id: 42, type: "member-down" as const },
  handler: "dns",
  attempt: 2,
  term: 7,
  fence: { term: 7, index: 45 },
  member: "web2",
  memberAddress: "10.0.0.2:7400",
  service: "pg",
  cluster: "prod",
};
