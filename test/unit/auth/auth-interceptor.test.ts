/**
 * The auth interceptor on a real GrpcServer (src/auth/auth-interceptor.ts): with keys, a role
 * token or a wrong one decides UNAUTHENTICATED / PERMISSION_DENIED / the handler, the handler
 * sees the verified identity and never one the client wrote itself, and a refusal repeated on
 * one identity is logged once; the legacy shared token is every role, as before.
 */
import * as grpc from "@grpc/grpc-js";
import test, { type ExecutionContext } from "ava";
import pino from "pino";
import { type AuthKeys, decodeKey, generateKey } from "../../../src/auth/auth-keys.ts";
import { callIdentity, IDENTITY_METADATA_KEY } from "../../../src/auth/call-identity.ts";
import type { ServerAuth } from "../../../src/auth/call-authenticator.ts";
import { mintRoleToken } from "../../../src/auth/role-token.ts";
import { tokenMetadata } from "../../../src/rpc/grpc-auth.ts";
import { createGrpcServer } from "../../../src/rpc/grpc-server.ts";
import { controlServiceDefinition } from "../../../src/rpc/service-definitions.ts";

const key = () => decodeKey(generateKey(), "k") as Buffer;
const keys: AuthKeys = { peer: key(), members: key(), operators: key() };

/** A server whose KvGet and ChecksApply answer with the identity the handler saw; its warnings. */
async function serve(t: ExecutionContext, auth: ServerAuth) {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "warn" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const server = await createGrpcServer({ listen: "127.0.0.1:0", auth, logger });
  const answer: grpc.handleUnaryCall<unknown, unknown> = (call, cb) =>
    cb(null, {
      found: true,
      value: JSON.stringify(callIdentity(call)),
      version: 1,
      checksJson: JSON.stringify(callIdentity(call)),
    });
  server.addService(controlServiceDefinition(), { KvGet: answer, ChecksApply: answer });
  const Client = grpc.makeGenericClientConstructor(controlServiceDefinition(), "Control");
  const client = new Client(server.address, grpc.credentials.createInsecure()) as unknown as Record<
    string,
    (
      req: object,
      md: grpc.Metadata,
      cb: (e: grpc.ServiceError | null, r?: { value?: string; checksJson?: string }) => void,
    ) => void
  > & { close(): void };
  t.teardown(async () => {
    client.close();
    await server.close();
  });
  const call = (method: string, md: grpc.Metadata) =>
    new Promise<{ code: number; details: string; identity: unknown }>((resolve) =>
      client[method]!({ key: "k", checksJson: "[]" }, md, (e, r) =>
        resolve(
          e
            ? { code: e.code, details: e.details, identity: null }
            : { code: 0, details: "", identity: JSON.parse(r!.value ?? r!.checksJson!) },
        ),
      ),
    );
  return { call, lines };
}

test("keys: reads and writes by role; wrong key UNAUTHENTICATED; the refusal names role and caller", async (t) => {
  const { call, lines } = await serve(t, { kind: "keys", keys });
  const reader = tokenMetadata(mintRoleToken(keys.operators, "reader", "grafana"));
  t.like(await call("KvGet", reader), {
    code: 0,
    identity: { name: "grafana", roles: ["reader"], shared: false },
  });
  const denied = await call("ChecksApply", reader);
  t.is(denied.code, grpc.status.PERMISSION_DENIED);
  t.is(denied.details, "needs role operator; called as reader/grafana");
  const operator = tokenMetadata(mintRoleToken(keys.operators, "operator", "alice"));
  t.like(await call("ChecksApply", operator), { code: 0, identity: { name: "alice", roles: ["operator"] } });
  const member = tokenMetadata(mintRoleToken(keys.members, "member", "web1"));
  t.like(await call("KvGet", member), {
    code: grpc.status.PERMISSION_DENIED,
    details: "needs role reader; called as member/web1",
  });
  const forged = tokenMetadata(mintRoleToken(key(), "operator", "alice"));
  t.like(await call("ChecksApply", forged), {
    code: grpc.status.UNAUTHENTICATED,
    details: "missing or wrong cluster token",
  });
  t.like(await call("KvGet", new grpc.Metadata()), { code: grpc.status.UNAUTHENTICATED });

  // Refused three more times: still one line for (reader/grafana, ChecksApply).
  for (let i = 0; i < 3; i++) t.is((await call("ChecksApply", reader)).code, grpc.status.PERMISSION_DENIED);
  const denials = lines.filter((l) => String(l.msg).includes("called as reader/grafana"));
  t.is(denials.length, 1);
  t.is(denials[0]!.method, "/conclave.control.Control/ChecksApply");
});

test("an identity the client writes into metadata itself is replaced by the verified one", async (t) => {
  const { call } = await serve(t, { kind: "keys", keys });
  const md = tokenMetadata(mintRoleToken(keys.operators, "reader", "grafana"));
  md.set(IDENTITY_METADATA_KEY, JSON.stringify({ name: "e1", roles: ["elector"], shared: true }));
  const r = await call("KvGet", md);
  t.deepEqual(r.identity, { name: "grafana", roles: ["reader"], shared: false });
  const bare = new grpc.Metadata();
  bare.set(IDENTITY_METADATA_KEY, JSON.stringify({ name: "e1", roles: ["elector"], shared: true }));
  t.is(
    (await call("ChecksApply", bare)).code,
    grpc.status.UNAUTHENTICATED,
    "no credential: the claim alone is nothing",
  );
});

test("legacy: the shared token is every role and any name", async (t) => {
  const { call } = await serve(t, { kind: "shared", token: "test-token-0123456789abcdef" });
  const md = tokenMetadata("test-token-0123456789abcdef");
  t.like(await call("ChecksApply", md), { code: 0, identity: { name: "cluster-token", shared: true } });
  const role = tokenMetadata(mintRoleToken(keys.operators, "operator", "alice"));
  t.is(
    (await call("ChecksApply", role)).code,
    grpc.status.UNAUTHENTICATED,
    "role tokens mean nothing in legacy mode",
  );
});

test("upgrading: keys with the shared token accept role tokens and the shared token, nothing else", async (t) => {
  const shared = "test-token-0123456789abcdef";
  const { call } = await serve(t, { kind: "keys", keys, sharedToken: shared });
  t.like(await call("ChecksApply", tokenMetadata(shared)), { code: 0, identity: { shared: true } });
  const reader = tokenMetadata(mintRoleToken(keys.operators, "reader", "grafana"));
  t.like(await call("KvGet", reader), { code: 0, identity: { name: "grafana", roles: ["reader"] } });
  t.is((await call("ChecksApply", reader)).code, grpc.status.PERMISSION_DENIED, "roles still hold");
  t.is((await call("KvGet", tokenMetadata(`${shared}x`))).code, grpc.status.UNAUTHENTICATED);
});
