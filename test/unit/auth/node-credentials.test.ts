/**
 * A node's own credentials from its config (src/auth/node-credentials.ts, through the real
 * config loader): the legacy shared token; an elector with cluster.auth deriving its elector
 * (and member) token; a member-only node holding its own member token, which must name it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { decodeKey, generateKey } from "../../../src/auth/auth-keys.ts";
import { mintRoleToken, verifyRoleToken } from "../../../src/auth/role-token.ts";
import { ConfigError } from "../../../src/config/config-error.ts";
import { loadConfig } from "../../../src/config/load-config.ts";

const KEYS = { peer: generateKey(), members: generateKey(), operators: generateKey() };
const buf = (k: string) => decodeKey(k, "k") as Buffer;
const keys = { peer: buf(KEYS.peer), members: buf(KEYS.members), operators: buf(KEYS.operators) };

const AUTH = [
  "  auth:",
  "    peer_key_file: peer.key",
  "    members_key_file: members.key",
  "    operators_key_file: operators.key",
].join("\n");

function load(t: ExecutionContext, roles: string, cluster: string, token?: string) {
  const dir = mkdtempSync(join(tmpdir(), "conclave-cred-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "peer.key"), `${KEYS.peer}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "members.key"), `${KEYS.members}\n`, { mode: 0o600 });
  writeFileSync(join(dir, "operators.key"), `${KEYS.operators}\n`, { mode: 0o600 });
  if (token !== undefined) writeFileSync(join(dir, "token"), `${token}\n`, { mode: 0o600 });
  const file = join(dir, "conclave.yaml");
  writeFileSync(
    file,
    [
      "name: web1",
      `roles: [${roles}]`,
      "listen: 127.0.0.1:7400",
      "data_dir: data",
      "cluster:",
      "  electors: { web1: 127.0.0.1:7400 }",
      cluster,
      "",
    ].join("\n"),
  );
  return () => loadConfig(file);
}

test("legacy: token_file alone is the shared token, presented in every role", (t) => {
  const c = load(t, "elector, member", "  token_file: token", "test-token-0123456789abcdef")();
  t.deepEqual(c.cluster.credentials, {
    legacy: true,
    server: { kind: "shared", token: "test-token-0123456789abcdef" },
    electorToken: "test-token-0123456789abcdef",
    memberToken: "test-token-0123456789abcdef",
  });
  t.is(c.cluster.auth, null);
});

test("upgrading: an elector with cluster.auth and the shared token accepts both and still presents the shared one", (t) => {
  const shared = "test-token-0123456789abcdef";
  const cred = load(t, "elector, member", `  token_file: token\n${AUTH}`, shared)().cluster.credentials;
  t.true(cred.legacy, "still warned about: the shared token is accepted");
  t.like(cred.server, { kind: "keys", sharedToken: shared });
  t.is(cred.electorToken, shared);
  t.is(cred.memberToken, shared);
});

test("an elector with cluster.auth derives its elector and member tokens from the keys", (t) => {
  const c = load(t, "elector, member", AUTH)();
  const cred = c.cluster.credentials;
  t.false(cred.legacy);
  t.is(cred.server?.kind, "keys");
  t.deepEqual(verifyRoleToken(keys, cred.electorToken!), { name: "web1", roles: ["elector"], shared: false });
  t.deepEqual(verifyRoleToken(keys, cred.memberToken!), { name: "web1", roles: ["member"], shared: false });
  t.is(c.cluster.tokenFile, null);
  t.true(c.cluster.auth!.peerKeyFile.endsWith("/peer.key"));
  t.is(
    load(t, "elector", AUTH)().cluster.credentials.memberToken,
    null,
    "an elector-only node presents no member token",
  );
});

test("a member-only node holds its own member token", (t) => {
  const token = mintRoleToken(keys.members, "member", "web1");
  const c = load(t, "member", "  token_file: token", token)();
  t.deepEqual(c.cluster.credentials, { legacy: false, server: null, electorToken: null, memberToken: token });
});

test("credential rules: each broken one names its key", (t) => {
  const refuse = (f: () => unknown, key: string, problem: RegExp) => {
    const e = t.throws(f, { instanceOf: ConfigError })!;
    t.is(e.key, key, e.message);
    t.regex(e.problem, problem);
  };
  refuse(
    load(t, "member", "  token_file: token", mintRoleToken(keys.members, "member", "web2")),
    "cluster.token_file",
    /member token of web2, not of this node \(web1\)/,
  );
  refuse(
    load(t, "member", "  token_file: token", mintRoleToken(keys.operators, "operator", "web1")),
    "cluster.token_file",
    /holds an operator token/,
  );
  refuse(
    load(t, "elector", "  token_file: token", mintRoleToken(keys.members, "member", "web1")),
    "cluster.token_file",
    /give cluster.auth/,
  );
  refuse(load(t, "member", AUTH), "cluster.auth", /only for electors/);
  refuse(
    load(t, "elector", `  token_file: token\n${AUTH}`, mintRoleToken(keys.peer, "elector", "web1")),
    "cluster.token_file",
    /holds a role token, but this elector has cluster.auth/,
  );
  refuse(load(t, "elector", ""), "cluster.token_file", /is required/);
  refuse(
    load(t, "elector", AUTH.replace("peer.key", "nope.key")),
    "cluster.auth.peer_key_file",
    /cannot read/,
  );
  refuse(
    load(t, "elector", AUTH.replace("peer.key", "conclave.yaml")),
    "cluster.auth.peer_key_file",
    /token|key/,
  );
});
