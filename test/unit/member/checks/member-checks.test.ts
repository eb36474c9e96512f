/**
 * A member's set of checks (src/member/checks/member-checks.ts) with real file_exists checks:
 * every check, local or cluster-wide, starts pending; a redefined cluster-wide check keeps the
 * state its old definition reached (only an agent restart makes a check pending again).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import pino from "pino";
import type { CheckState } from "../../../../src/contract/check-state.ts";
import type { CheckConfig } from "../../../../src/config/node-config.ts";
import { MemberChecks } from "../../../../src/member/checks/member-checks.ts";

test("checks start pending; a changed cluster-wide definition keeps its state, a new one starts pending", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-member-checks-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const changes: [string, CheckState][] = [];
  let failed!: () => void;
  const diskFailed = new Promise<void>((resolve) => (failed = resolve));
  const local: CheckConfig = {
    name: "local",
    type: "file_exists",
    path: dir,
    // Never runs twice here: it stays pending however long the test takes.
    intervalMs: 3_600_000,
    timeoutMs: 5000,
    fall: 2,
    rise: 2,
    action: null,
  };
  const checks = new MemberChecks({
    local: [local],
    logger: pino({ level: "silent" }),
    onChange: (name, state) => {
      changes.push([name, state]);
      if (name === "disk" && state === "failing") failed();
    },
  });
  t.teardown(() => checks.stop());
  const disk = (interval: string) =>
    JSON.stringify([{ name: "disk", type: "file_exists", path: join(dir, "absent"), interval, fall: 1 }]);
  checks.setCluster(1, disk("10ms"));
  t.deepEqual(checks.states(), { local: "pending", disk: "pending" });
  checks.start();
  await diskFailed;
  t.deepEqual(checks.states(), { local: "pending", disk: "failing" });

  // Redefined (another interval): a new runner, the same state; it reports nothing new.
  checks.setCluster(2, disk("60m"));
  t.is(checks.version, 2);
  t.deepEqual(checks.states(), { local: "pending", disk: "failing" });
  // Added: pending until it has run enough.
  checks.setCluster(
    3,
    JSON.stringify([
      JSON.parse(disk("60m"))[0],
      { name: "tmp", type: "file_exists", path: dir, interval: "60m", rise: 2 },
    ]),
  );
  t.is(checks.version, 3);
  t.deepEqual(checks.states(), { local: "pending", disk: "failing", tmp: "pending" });
  t.deepEqual(changes, [["disk", "failing"]]);
});
