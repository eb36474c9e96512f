/**
 * Role tokens (src/auth/role-token.ts): `ROLE.NAME.MAC` made with the role's key, checked with
 * the keys alone; a token made with another key, or with its role or name changed, proves
 * nothing; a legacy shared token is not taken for a role token.
 */
import { createHmac } from "node:crypto";
import test from "ava";
import { type AuthKeys, decodeKey, generateKey, keyForRole } from "../../../src/auth/auth-keys.ts";
import {
  mintRoleToken,
  parseRoleToken,
  RoleTokenError,
  verifyRoleToken,
} from "../../../src/auth/role-token.ts";

const key = () => decodeKey(generateKey(), "k") as Buffer;
const keys: AuthKeys = { peer: key(), members: key(), operators: key() };

test("the MAC is base64url HMAC-SHA256 of conclave/v1/ROLE/NAME under the role's key", (t) => {
  const token = mintRoleToken(keys.members, "member", "web1");
  const mac = createHmac("sha256", keys.members).update("conclave/v1/member/web1").digest("base64url");
  t.is(token, `member.web1.${mac}`);
  t.is(keyForRole(keys, "elector"), keys.peer);
  t.is(keyForRole(keys, "reader"), keys.operators);
});

test("a token made with its role's key verifies to that one name and role", (t) => {
  t.deepEqual(verifyRoleToken(keys, mintRoleToken(keys.peer, "elector", "e1")), {
    name: "e1",
    roles: ["elector"],
    shared: false,
  });
  t.deepEqual(verifyRoleToken(keys, mintRoleToken(keys.operators, "reader", "grafana.dash")), {
    name: "grafana.dash",
    roles: ["reader"],
    shared: false,
  });
});

test("a token made with the wrong key, or with its role or name changed, proves nothing", (t) => {
  t.is(verifyRoleToken(keys, mintRoleToken(key(), "member", "web1")), null, "another cluster's key");
  t.is(
    verifyRoleToken(keys, mintRoleToken(keys.members, "elector", "web1")),
    null,
    "members key for an elector",
  );
  const member = mintRoleToken(keys.members, "member", "web1");
  t.is(verifyRoleToken(keys, member.replace("member.web1.", "member.web2.")), null, "renamed");
  t.is(verifyRoleToken(keys, member.replace("member.", "operator.")), null, "role changed");
  const reader = mintRoleToken(keys.operators, "reader", "grafana");
  t.is(
    verifyRoleToken(keys, reader.replace("reader.", "operator.")),
    null,
    "a reader cannot become an operator",
  );
  t.is(
    verifyRoleToken(keys, `${member.slice(0, -1)}${member.endsWith("A") ? "B" : "A"}`),
    null,
    "MAC altered",
  );
});

test("parse: only ROLE.NAME.MAC with a known role, a valid name and a 43-character MAC", (t) => {
  const token = mintRoleToken(keys.members, "member", "a.b.c");
  t.like(parseRoleToken(token), { role: "member", name: "a.b.c" });
  for (const bad of [
    "test-token-0123456789abcdef",
    `admin.web1.${"A".repeat(43)}`,
    `member..${"A".repeat(43)}`,
    `member.web1.${"A".repeat(42)}`,
    `member.-web1.${"A".repeat(43)}`,
    `member.web1.${"A".repeat(42)}=`,
  ]) {
    t.is(parseRoleToken(bad), null, bad);
  }
});

test("a token cannot be made for an invalid name", (t) => {
  t.throws(() => mintRoleToken(keys.members, "member", "bad name"), { instanceOf: RoleTokenError });
  t.throws(() => mintRoleToken(keys.members, "member", "x".repeat(200)), { instanceOf: RoleTokenError });
});

test("decodeKey takes exactly 32 bytes of base64url", (t) => {
  t.is((decodeKey(generateKey(), "k") as Buffer).length, 32);
  t.regex(decodeKey("c2hvcnQ", "the key in f") as string, /^the key in f is not a key/);
  t.regex(decodeKey(`${generateKey()}!`, "k") as string, /not a key/);
});
