/**
 * A handler run's whole environment, as the leader starts it (elector/leader/handler-attempt.ts
 * through the runner): the contract's CONCLAVE_* variables over PATH, HOME and the locale of
 * the agent's environment, and nothing else of it: a secret the agent was started with does
 * not reach the handler, nor do the agent's own CONCLAVE_* settings.
 */
import test from "ava";
import { HANDLER_ENV_NAMES, inheritedHandlerEnv } from "../../../../src/contract/handler-env.ts";
import { setup } from "./runner-fixture.ts";

// This test file's worker is the agent here: the runner reads process.env as the agent does.
process.env.SECRET_IN_AGENT_ENV = "hunter2";
process.env.CONCLAVE_TOKEN_FILE = "/etc/conclave/operator.token";
process.env.LANG = "C.UTF-8";
process.env.HOME = "/var/lib/conclave";
delete process.env.LC_ALL;

test("the leader starts a handler with PATH, HOME, LANG and the CONCLAVE_* variables only", async (t) => {
  const s = setup();
  s.join("m1", "10.1.0.1:7001");
  s.runner.becameLeader(2);
  s.down("m1");
  const p = await s.spawner.process(1);
  const env = p.request.env;
  t.is(env.SECRET_IN_AGENT_ENV, undefined, "a secret in the agent's environment does not reach the handler");
  t.deepEqual(Object.keys(env).sort(), [...HANDLER_ENV_NAMES, "HOME", "LANG", "PATH"].sort());
  t.is(env.PATH, process.env.PATH);
  t.is(env.HOME, "/var/lib/conclave");
  t.is(env.LANG, "C.UTF-8");
  t.is(env.CONCLAVE_EVENT, "member-down");
});

test("inheritedHandlerEnv keeps PATH, HOME, LANG and LC_ALL when set, nothing else", (t) => {
  t.deepEqual(
    inheritedHandlerEnv({
      PATH: "/usr/bin:/bin",
      LC_ALL: "de_DE.UTF-8",
      AWS_SECRET_ACCESS_KEY: "x",
      CONCLAVE_HW_WATCHDOG: "/dev/watchdog",
      NODE_OPTIONS: "--require /tmp/evil.js",
      HOME: undefined,
    }),
    { PATH: "/usr/bin:/bin", LC_ALL: "de_DE.UTF-8" },
  );
  t.deepEqual(inheritedHandlerEnv({}), {});
});
