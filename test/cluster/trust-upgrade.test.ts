/**
 * The documented upgrade from the shared cluster token to role credentials
 * (docs/security.md#upgrading), one node at a time on a running cluster, with real processes:
 * 1. each elector in turn gets `cluster.auth` beside the shared `token_file` (accepts both,
 *    presents the shared token) and is restarted;
 * 2. each member-only node gets its own member token;
 * 3. each elector in turn drops `token_file` (presents its role token).
 * After every restart the cluster has a leader and commits a kv put, and no member is ever
 * committed down: the whole event log is read at the end, up to a marker put. Then the shared
 * token opens nothing (UNAUTHENTICATED), the operator token writes, and a reader token reads
 * but cannot write (PERMISSION_DENIED naming operator).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import test from "ava";
import { initKeyDir } from "../../src/auth/key-dir.ts";
import { readKeyFile } from "../../src/auth/auth-keys.ts";
import { mintRoleToken } from "../../src/auth/role-token.ts";
import { connectControl } from "../../src/control/control-client.ts";
import { ControlError, type ControlApi } from "../../src/control/control-types.ts";
import { clusterUp, eventsAfter, membersUp, until } from "../support/cluster-wait.ts";

const ELECTORS = ["e1", "e2", "e3"];
const MEMBERS = ["m1", "m2"];

/** Replace the text of a node's config file by `edit` of it. */
function editConfig(file: string, edit: (yaml: string) => string): void {
  const before = readFileSync(file, "utf8");
  const after = edit(before);
  if (after === before) throw new Error(`${file}: the edit changed nothing`);
  writeFileSync(file, after);
}

test.serial(
  "shared token to role credentials, one node at a time: always a leader, every put commits, no member down",
  async (t) => {
    // A member timeout well above an agent's restart, so "no member-down" is about credentials.
    const { c } = await clusterUp(
      t,
      { names: ELECTORS, members: MEMBERS, logLevel: "warn", heartbeat: "200ms", memberTimeout: "6s" },
      { client: "e1" },
    );
    const keys = initKeyDir(join(c.dir, "keys"), "admin");
    const k = {
      peer: readKeyFile(keys.peerKeyFile),
      members: readKeyFile(keys.membersKeyFile),
      operators: readKeyFile(keys.operatorsKeyFile),
    };
    const shared = c.token;
    const sharedLine = `  token_file: ${c.tokenFile}\n`;
    const authLines = [
      "  auth:",
      `    peer_key_file: ${keys.peerKeyFile}`,
      `    members_key_file: ${keys.membersKeyFile}`,
      `    operators_key_file: ${keys.operatorsKeyFile}`,
      "",
    ].join("\n");
    const clientOf = (token: string): ControlApi => {
      const a = connectControl({ addr: c.nodes.get("e2")!.addr, token, timeoutMs: 10_000 });
      t.teardown(() => a.close());
      return a;
    };

    let step = 0;
    /** Restart `name` and show the cluster still commits through a client holding `token`. */
    const restart = async (name: string, token: string) => {
      await c.terminate(name);
      c.start(name);
      const a = clientOf(token);
      // Through `token`: the harness's own wait presents the shared token, refused at the end.
      await until(
        `a leader after restarting ${name}`,
        async () => ((await a.status()).leader ? true : undefined),
        30_000,
      );
      step++;
      await until(`a put after restarting ${name}`, async () => {
        await a.kvPut(`step-${step}`, name);
        return true;
      });
      await until(`members up after restarting ${name}`, () => membersUp(a, MEMBERS));
      t.log(`step ${step}: ${name} restarted, a put committed`);
    };

    // 1. Electors: add cluster.auth, keep the shared token.
    for (const e of ELECTORS) {
      editConfig(c.nodes.get(e)!.configFile, (y) => y.replace(sharedLine, `${sharedLine}${authLines}`));
      await restart(e, shared);
    }
    // 2. Members: their own token.
    for (const m of MEMBERS) {
      const file = join(c.dir, m, "member.token");
      writeFileSync(file, `${mintRoleToken(k.members, "member", m)}\n`, { mode: 0o600 });
      editConfig(c.nodes.get(m)!.configFile, (y) => y.replace(sharedLine, `  token_file: ${file}\n`));
      await restart(m, shared);
    }
    // 3. Electors: drop the shared token. The operator token works throughout this step.
    const operator = readFileSync(keys.operatorTokenFile, "utf8").trim();
    for (const e of ELECTORS) {
      editConfig(c.nodes.get(e)!.configFile, (y) => y.replace(sharedLine, ""));
      await restart(e, operator);
    }

    const admin = clientOf(operator);
    const marker = await admin.kvPut("upgrade-done", "yes");
    t.true(marker.revision > 0);
    const events = await eventsAfter(admin);
    const downs = events.filter((e) => e.type === "member-down" && MEMBERS.includes(e.member ?? ""));
    t.deepEqual(downs, [], "no member was committed down during the upgrade");

    const refusedShared = await t.throwsAsync(clientOf(shared).kvGet("upgrade-done"), {
      instanceOf: ControlError,
    });
    t.is(refusedShared!.code, grpc.status.UNAUTHENTICATED);
    const reader = clientOf(mintRoleToken(k.operators, "reader", "grafana"));
    t.is((await reader.kvGet("upgrade-done")).value, "yes");
    const denied = await t.throwsAsync(reader.kvPut("x", "y"), { instanceOf: ControlError });
    t.is(denied!.code, grpc.status.PERMISSION_DENIED);
    t.regex(denied!.message, /needs role operator; called as reader\/grafana/);
  },
);
