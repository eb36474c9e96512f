/**
 * The handler environment of the contract (src/contract/handler-env.ts): the CONCLAVE_*
 * variables are exactly the contract's (docs/handler-contract.md), spelled as it says, and numbers that would defeat fencing
 * are refused. That the variables and the stdin document reach a real process is tested in
 * test/unit/process/process-run.test.ts.
 */
import test from "ava";
import {
  HANDLER_ENV_NAMES,
  HandlerEnvironmentError,
  handlerEnvironment,
} from "../../../src/contract/handler-env.ts";
import { SAMPLE_ENV_INPUT } from "../../support/handler-env.ts";

test("handlerEnvironment sets exactly the contract's (docs/handler-contract.md) variables, empty strings for absent values", (t) => {
  t.deepEqual(handlerEnvironment(SAMPLE_ENV_INPUT), {
    CONCLAVE_EVENT: "member-down",
    CONCLAVE_EVENT_ID: "42",
    CONCLAVE_TERM: "7",
    CONCLAVE_FENCE: "7:45",
    CONCLAVE_ATTEMPT: "2",
    CONCLAVE_HANDLER: "dns",
    CONCLAVE_MEMBER: "web2",
    CONCLAVE_MEMBER_ADDRESS: "10.0.0.2:7400",
    CONCLAVE_SERVICE: "pg",
    CONCLAVE_CLUSTER: "prod",
    CONCLAVE_COVERS: "42",
    CONCLAVE_DRY_RUN: "",
  });
  const sparse = handlerEnvironment({
    event: { id: 3, type: "leader-elected" },
    handler: "log",
    attempt: 1,
    term: 1,
    fence: { term: 1, index: 4 },
    member: null,
  });
  t.deepEqual(Object.keys(sparse).sort(), [...HANDLER_ENV_NAMES].sort());
  t.is(sparse.CONCLAVE_MEMBER, "");
  t.is(sparse.CONCLAVE_MEMBER_ADDRESS, "");
  t.is(sparse.CONCLAVE_SERVICE, "");
  t.is(sparse.CONCLAVE_CLUSTER, "");
});

test("handlerEnvironment refuses numbers that would make a meaningless fence or attempt", (t) => {
  t.throws(() => handlerEnvironment({ ...SAMPLE_ENV_INPUT, attempt: 0 }), {
    instanceOf: HandlerEnvironmentError,
  });
  t.throws(() => handlerEnvironment({ ...SAMPLE_ENV_INPUT, fence: { term: 1, index: 1.5 } }), {
    instanceOf: HandlerEnvironmentError,
  });
  t.throws(() => handlerEnvironment({ ...SAMPLE_ENV_INPUT, term: Number.NaN }), {
    instanceOf: HandlerEnvironmentError,
  });
});
