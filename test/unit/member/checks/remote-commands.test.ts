/**
 * No remote code by default (docs/checks.md#remote-commands; issue 11, item 3): a cluster-wide
 * `command` check, or one with an `action`, is refused by a member whose config does not set
 * `allow_remote_commands: true`. Refused means not run (the command would create a file, and
 * it is not created), not a check state at all (so never reported failing), and listed with a
 * reason in the member's refusals, which the agent reports. The member's own checks run as
 * before, and with the key set the same definitions run.
 *
 * "Not run" is shown without waiting for time to pass: a runner for the refused definition
 * would have started with its sibling's, and `stop()` waits for every run in flight.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import pino from "pino";
import type { CheckState } from "../../../../src/contract/check-state.ts";
import type { CheckConfig } from "../../../../src/config/node-config.ts";
import { MemberChecks } from "../../../../src/member/checks/member-checks.ts";
import { judgeRemoteCheck } from "../../../../src/member/checks/remote-command-policy.ts";
import { waitFor } from "../../../support/poll.ts";

const NOT_ALLOWED = /this member's config does not set allow_remote_commands: true/;

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-remote-commands-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A member's checks, recording each state change and resolving `changed(name)` on the first of `name`. */
function memberChecks(t: ExecutionContext, o: { local?: CheckConfig[]; allowRemoteCommands?: boolean }) {
  const changes: [string, CheckState][] = [];
  const waiters = new Map<string, () => void>();
  const checks = new MemberChecks({
    local: o.local ?? [],
    ...(o.allowRemoteCommands === undefined ? {} : { allowRemoteCommands: o.allowRemoteCommands }),
    logger: pino({ level: "silent" }),
    onChange: (name, state) => {
      changes.push([name, state]);
      waiters.get(name)?.();
    },
  });
  t.teardown(() => checks.stop());
  const changed = (name: string) => new Promise<void>((resolve) => waiters.set(name, resolve));
  return { checks, changes, changed };
}

test("by default a cluster-wide command check and an action are refused: not run, no state, listed with a reason", async (t) => {
  const dir = tempDir(t);
  const ran = join(dir, "command-ran");
  const acted = join(dir, "action-ran");
  const { checks, changes, changed } = memberChecks(t, {});
  checks.setCluster(
    7,
    JSON.stringify([
      { name: "whoami", type: "command", run: `touch ${ran}`, interval: "10ms", rise: 1 },
      {
        name: "web",
        type: "file_exists",
        path: join(dir, "absent"),
        interval: "10ms",
        fall: 1,
        action: `touch ${acted}`,
      },
      { name: "tmp", type: "file_exists", path: dir, interval: "10ms", rise: 1 },
    ]),
  );
  // Only the definition that starts no process has a state: the refused ones are not checks here.
  t.deepEqual(checks.states(), { tmp: "pending" });
  const refusals = checks.refusals();
  t.is(refusals.version, 7);
  t.deepEqual(Object.keys(refusals.refused), ["web", "whoami"]);
  t.regex(refusals.refused.whoami!, /^a command check from checks apply; /);
  t.regex(refusals.refused.whoami!, NOT_ALLOWED);
  t.regex(refusals.refused.web!, /^its action is a command from checks apply; /);
  t.regex(refusals.refused.web!, NOT_ALLOWED);

  const tmpPassed = changed("tmp");
  checks.start();
  await tmpPassed;
  await checks.stop();
  t.false(existsSync(ran), "the refused command check never ran");
  t.false(existsSync(acted), "the refused action never ran");
  t.deepEqual(changes, [["tmp", "passing"]], "nothing about a refused check is ever reported");
});

test("a member's own command check and action run whatever allow_remote_commands says", async (t) => {
  const dir = tempDir(t);
  const ran = join(dir, "local-ran");
  const acted = join(dir, "local-acted");
  const common = { intervalMs: 3_600_000, timeoutMs: 5000, fall: 1, rise: 1 } as const;
  const local: CheckConfig[] = [
    {
      ...common,
      name: "local",
      type: "command",
      run: { kind: "shell", command: `touch ${ran}` },
      action: null,
    },
    {
      ...common,
      name: "fixer",
      type: "file_exists",
      path: join(dir, "absent"),
      action: { kind: "shell", command: `touch ${acted}` },
    },
  ];
  const { checks, changed, changes } = memberChecks(t, { local });
  checks.setCluster(1, "[]");
  t.deepEqual(checks.refusals(), { version: 1, refused: {} });
  const passed = changed("local");
  checks.start();
  await passed;
  t.deepEqual(
    changes.find(([name]) => name === "local"),
    ["local", "passing"],
  );
  t.true(existsSync(ran));
  await waitFor(t, "the local action's file", () => existsSync(acted));
  t.pass();
});

test("with allow_remote_commands: true the same command check and action run, and nothing is refused", async (t) => {
  const dir = tempDir(t);
  const ran = join(dir, "command-ran");
  const acted = join(dir, "action-ran");
  const { checks, changed } = memberChecks(t, { allowRemoteCommands: true });
  checks.setCluster(
    3,
    JSON.stringify([
      { name: "whoami", type: "command", run: `touch ${ran}`, interval: "60m", rise: 1 },
      {
        name: "web",
        type: "file_exists",
        path: join(dir, "absent"),
        interval: "60m",
        fall: 1,
        action: `touch ${acted}`,
      },
    ]),
  );
  t.deepEqual(checks.states(), { whoami: "pending", web: "pending" });
  t.deepEqual(checks.refusals(), { version: 3, refused: {} });
  const passed = changed("whoami");
  const failed = changed("web");
  checks.start();
  await passed;
  t.true(existsSync(ran));
  await failed;
  await waitFor(t, "the action's file", () => existsSync(acted));
  t.pass();
});

test("a running cluster-wide check whose new definition is refused stops; a later allowed set clears the refusal", async (t) => {
  const dir = tempDir(t);
  const { checks } = memberChecks(t, {});
  const fileCheck = { name: "probe", type: "file_exists", path: dir, interval: "60m" };
  checks.setCluster(1, JSON.stringify([fileCheck]));
  t.deepEqual(checks.states(), { probe: "pending" });
  checks.setCluster(2, JSON.stringify([{ ...fileCheck, type: "command", run: "true", path: undefined }]));
  t.deepEqual(checks.states(), {}, "the old runner is gone; the refused one has none");
  t.deepEqual(Object.keys(checks.refusals().refused), ["probe"]);
  checks.setCluster(3, JSON.stringify([fileCheck]));
  t.deepEqual(checks.refusals(), { version: 3, refused: {} });
  t.deepEqual(checks.states(), { probe: "pending" });
});

test("judgeRemoteCheck: only command checks and actions are refused, and only without the key", (t) => {
  const base = { name: "c", intervalMs: 1000, timeoutMs: 1000, fall: 1, rise: 1, action: null } as const;
  const command: CheckConfig = { ...base, type: "command", run: { kind: "argv", argv: ["id"] } };
  const withAction: CheckConfig = {
    ...base,
    type: "tcp",
    address: "127.0.0.1:1",
    action: { kind: "argv", argv: ["id"] },
  };
  const reader: CheckConfig = { ...base, type: "http", url: "http://127.0.0.1/", expect: null, status: 200 };
  t.is(judgeRemoteCheck(command, false).kind, "refused");
  t.is(judgeRemoteCheck(withAction, false).kind, "refused");
  t.deepEqual(judgeRemoteCheck(reader, false), { kind: "run" });
  t.deepEqual(judgeRemoteCheck(command, true), { kind: "run" });
  t.deepEqual(judgeRemoteCheck(withAction, true), { kind: "run" });
});
