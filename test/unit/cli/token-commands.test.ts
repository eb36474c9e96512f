/**
 * `conclave token init/issue/member` (src/cli/token-commands.ts) in this process: init writes
 * the three keys and an operator token 0600 and prints the config lines, refuses to replace
 * anything; issue and member print a token the keys verify; bad role, name or key (or a key
 * file group or others can read) is exit 2.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { readKeyFile } from "../../../src/auth/auth-keys.ts";
import { verifyRoleToken } from "../../../src/auth/role-token.ts";
import { runCli } from "../../../src/cli/cli.ts";

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    env: {},
    connect: () => {
      throw new Error("token commands do not connect");
    },
    runAgent: () => Promise.reject(new Error("no agent")),
    runDev: () => Promise.reject(new Error("no dev")),
  });
  return { code, out, err };
}

function scratch(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-tokencli-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test("token init writes the keys and an operator token, 0600, and prints the config lines", async (t) => {
  const dir = join(scratch(t), "keys");
  const r = await cli(["token", "init", dir, "--operator", "alice"]);
  t.is(r.code, 0, r.err);
  for (const f of ["peer.key", "members.key", "operators.key", "operator-alice.token"]) {
    t.is(statSync(join(dir, f)).mode & 0o777, 0o600, f);
  }
  t.is(statSync(dir).mode & 0o777, 0o700);
  t.regex(r.out, new RegExp(`peer_key_file: ${join(dir, "peer.key")}`));
  t.regex(r.out, /operators_key_file: .*operators\.key/);
  const keys = {
    peer: readKeyFile(join(dir, "peer.key")),
    members: readKeyFile(join(dir, "members.key")),
    operators: readKeyFile(join(dir, "operators.key")),
  };
  const op = readFileSync(join(dir, "operator-alice.token"), "utf8").trim();
  t.deepEqual(verifyRoleToken(keys, op), { name: "alice", roles: ["operator"], shared: false });

  const before = readFileSync(join(dir, "peer.key"), "utf8");
  const again = await cli(["token", "init", dir, "--operator", "alice"]);
  t.is(again.code, 1);
  t.regex(again.err, /exists; refusing to replace it/);
  t.is(readFileSync(join(dir, "peer.key"), "utf8"), before, "nothing replaced");

  const member = await cli(["token", "member", "web1", "--key", join(dir, "members.key")]);
  t.is(member.code, 0, member.err);
  t.deepEqual(verifyRoleToken(keys, member.out.trim()), { name: "web1", roles: ["member"], shared: false });
  const reader = await cli(["token", "issue", "reader", "grafana", "--key", join(dir, "operators.key")]);
  t.deepEqual(verifyRoleToken(keys, reader.out.trim()), {
    name: "grafana",
    roles: ["reader"],
    shared: false,
  });
  t.is(reader.out.split("\n").length, 2, "the token alone, one line");
});

test("token issue: a bad role, name or key file is bad usage", async (t) => {
  const dir = join(scratch(t), "keys");
  t.is((await cli(["token", "init", dir])).code, 0);
  const key = join(dir, "members.key");
  const role = await cli(["token", "issue", "admin", "x", "--key", key]);
  t.is(role.code, 2);
  t.regex(role.err, /role must be one of elector, member, operator, reader/);
  t.is((await cli(["token", "issue", "member", "bad name", "--key", key])).code, 2);
  const noKey = await cli(["token", "member", "web1", "--key", join(dir, "nope")]);
  t.is(noKey.code, 2);
  t.regex(noKey.err, /--key: cannot read/);
  const notKey = await cli(["token", "member", "web1", "--key", join(dir, "operator-admin.token")]);
  t.is(notKey.code, 2);
  t.regex(notKey.err, /is not a key/);
  chmodSync(key, 0o644);
  const open = await cli(["token", "member", "web1", "--key", key]);
  t.is(open.code, 2);
  t.regex(
    open.err,
    new RegExp(
      `^conclave: --key: key file ${key} has mode 0644; it must not be readable by group or others \\(chmod 600 `,
    ),
  );
  t.is(open.out, "", "no token made from a key others could read");
});
