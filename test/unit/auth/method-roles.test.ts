/**
 * The method table (src/auth/method-roles.ts) covers every method of every service a node
 * serves, loaded from their definitions, and nothing else; reads are open to readers and
 * writes are not.
 */
import test from "ava";
import { METHOD_ROLES, rolesForMethod } from "../../../src/auth/method-roles.ts";
import { controlServiceDefinition, memberServiceDefinition } from "../../../src/rpc/service-definitions.ts";
import { RAFT_PEER_SERVICE } from "../../../src/transport/raft-wire.ts";

const paths = (def: Record<string, { path: string }>) => Object.values(def).map((m) => m.path);

test("every method of every service is in the table, and the table holds nothing else", (t) => {
  const served = [
    ...paths(RAFT_PEER_SERVICE),
    ...paths(memberServiceDefinition()),
    ...paths(controlServiceDefinition()),
  ].sort();
  t.true(served.length >= 19, `${served.length} methods`);
  t.deepEqual(Object.keys(METHOD_ROLES).sort(), served);
});

test("Raft is electors only, reports members only; control reads admit readers, writes do not", (t) => {
  t.deepEqual(rolesForMethod("/conclave.raft.RaftPeer/Stream"), ["elector"]);
  t.deepEqual(rolesForMethod("/conclave.member.MemberReports/Report"), ["member"]);
  const reads = [
    "Status",
    "KvGet",
    "KvList",
    "ElectorsList",
    "Members",
    "Events",
    "AuditVerify",
    "ChecksList",
  ];
  for (const [path, roles] of Object.entries(METHOD_ROLES)) {
    if (!path.startsWith("/conclave.control.Control/")) continue;
    const read = reads.includes(path.split("/").at(-1)!);
    t.deepEqual([...roles].sort(), read ? ["elector", "operator", "reader"] : ["elector", "operator"], path);
    t.false(roles.includes("member"), `${path}: members never call the control API`);
  }
  t.deepEqual(rolesForMethod("/conclave.control.Control/NoSuch"), [], "a method not in the table: nobody");
  t.deepEqual(rolesForMethod("toString"), []);
});
