/**
 * Limits at the edge and "never persist what cannot be loaded" (issue 11), with real
 * processes:
 * - a member report past a limit (a 70,000-byte name, 65 checks, a 300-byte address) is
 *   refused by the elector with a status and a message naming the limit; a 70,000-byte check
 *   detail is cut to CHECK_DETAIL_MAX_BYTES (logged, naming it), not committed whole; the
 *   cluster goes on committing (a kv put afterwards is read back on every elector);
 * - a snapshot of non-JSON data, sent to a follower on a raw peer stream with the leader's
 *   own elector credential, is refused before it is persisted: the follower keeps serving,
 *   and after a stop and a start it comes up with its old state;
 * - the kv quota: filling the store with 64 KiB values past KV_QUOTA_BYTES is refused with
 *   RESOURCE_EXHAUSTED naming the quota (and `conclave kv put` prints it and exits 1); a
 *   delete then works, and a put fits again.
 */
import * as grpc from "@grpc/grpc-js";
import test from "ava";
import type { Duplex } from "node:stream";
import { message } from "../../raft/index.ts";
import { formatBytes, KV_QUOTA_BYTES } from "../../src/contract/limits.ts";
import { ControlError } from "../../src/control/control-types.ts";
import { tokenMetadata } from "../../src/rpc/grpc-auth.ts";
import { memberServiceDefinition } from "../../src/rpc/service-definitions.ts";
import { encodeFrame } from "../../src/transport/raft-wire.ts";
import { clusterUp, eventsAfter, until } from "../support/cluster-wait.ts";
import { conclave } from "../support/run-conclave.ts";
import { rawStream, wire } from "../unit/transport/peer-fixtures.ts";

/** The cluster name every elector runs with (contract/handler-env.ts DEFAULT_CLUSTER_NAME). */
const CLUSTER = "conclave";

/** Open a raw member report stream to `addr`; `send` writes, `ended` resolves with the status. */
function memberStream(addr: string, token: string) {
  const Client = grpc.makeGenericClientConstructor(memberServiceDefinition(), "MemberReports");
  const client = new Client(addr, grpc.credentials.createInsecure());
  const report = (client as unknown as Record<string, (md: grpc.Metadata) => Duplex>).Report!;
  const stream = report.call(client, tokenMetadata(token));
  const replies: unknown[] = [];
  stream.on("data", (r: unknown) => replies.push(r));
  const ended = new Promise<{ code: grpc.status; details: string }>((resolve) => {
    stream.on("error", (e: grpc.ServiceError) => resolve({ code: e.code, details: e.details }));
    stream.on("end", () => resolve({ code: grpc.status.OK, details: "" }));
  });
  return {
    send: (m: object) => stream.write(m),
    replies,
    ended,
    close: () => {
      stream.end();
      client.close();
    },
  };
}

const register = (name: string, extra: object = {}) => ({
  register: { name, address: "127.0.0.1:7999", services: [], checks: { disk: "passing" }, ...extra },
});

test.serial(
  "member reports past a limit are refused at the edge naming it, and the cluster keeps committing",
  async (t) => {
    const { c, api, leader } = await clusterUp(t, {
      names: ["e1", "e2", "e3"],
      logLevel: "warn",
      heartbeat: "100ms",
      memberTimeout: "1500ms",
    });
    const addr = c.nodes.get(leader)!.addr;
    const refusals: [object, grpc.status, RegExp][] = [
      [
        register("n".repeat(70_000)),
        grpc.status.INVALID_ARGUMENT,
        /^registration refused: "n{80}"\.\.\. \(70000 characters\) is not a valid member name: .*at most 64 characters$/,
      ],
      [
        register("m-many", {
          checks: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`c${i}`, "pending"])),
        }),
        grpc.status.RESOURCE_EXHAUSTED,
        /65 checks; a member may have at most 64 \(CHECKS_PER_MEMBER_MAX\)/,
      ],
      [
        register("m-addr", { address: `${"h".repeat(300)}:7999` }),
        grpc.status.INVALID_ARGUMENT,
        /the address is 305 bytes; the limit is 260 bytes \(MEMBER_ADDRESS_MAX_BYTES\)/,
      ],
      [
        register("m-check", { checks: { ["c".repeat(70_000)]: "passing" } }),
        grpc.status.INVALID_ARGUMENT,
        /is not a valid check name: .*at most 64 characters/,
      ],
    ];
    for (const [first, code, details] of refusals) {
      const s = memberStream(addr, c.token);
      t.teardown(s.close);
      s.send(first);
      const end = await s.ended;
      t.is(end.code, code, end.details);
      t.regex(end.details, details);
      t.deepEqual(s.replies, [], "nothing acknowledged");
    }

    // A valid member whose check fails with a 70,000-byte detail: cut, not committed whole.
    const since = (await eventsAfter(api)).at(-1)!.id;
    const m = memberStream(addr, c.token);
    t.teardown(m.close);
    m.send(register("m-raw"));
    let seq = 0;
    const beat = setInterval(() => m.send({ heartbeat: { seq: ++seq } }), 100);
    t.teardown(() => clearInterval(beat));
    // Once joined, a failing check is committed as check-failing with its detail.
    await until("m-raw joined", async () =>
      (await eventsAfter(api, since)).find((e) => e.type === "member-joined" && e.member === "m-raw"),
    );
    m.send({ check: { name: "disk", state: "failing", detail: "d".repeat(70_000) } });
    const failing = await until("check-failing of m-raw", async () =>
      (await eventsAfter(api, since)).find((e) => e.type === "check-failing" && e.member === "m-raw"),
    );
    const detail = String(failing.details.detail ?? "");
    t.true(detail.length > 0 && Buffer.byteLength(detail) <= 1024, `${detail.length} characters committed`);
    t.regex(c.nodes.get(leader)!.output, /a check detail was cut to 1 KiB \(CHECK_DETAIL_MAX_BYTES\)/);
    const events = await eventsAfter(api, since);
    t.deepEqual(
      events.filter((e) => e.member !== null && e.member !== "m-raw").map((e) => e.type),
      [],
      "no refused member was ever committed",
    );

    const put = await api.kvPut("after/limits", "still-committing");
    for (const name of ["e1", "e2", "e3"]) {
      const client = c.client(name);
      t.teardown(() => client.close());
      const got = await until(`kv on ${name}`, async () => {
        const r = await client.kvGet("after/limits");
        return r.found && r.revision === put.revision ? r.value : undefined;
      });
      t.is(got, "still-committing");
    }
  },
);

test.serial(
  "a snapshot of non-JSON data from the leader's credential is refused unpersisted; the follower restarts with its old state",
  async (t) => {
    const { c, api, leader } = await clusterUp(t, {
      names: ["e1", "e2", "e3"],
      logLevel: "warn",
      roleTokens: true,
    });
    const follower = ["e1", "e2", "e3"].find((n) => n !== leader)!;
    const before = await api.kvPut("before/snapshot", "kept");
    const fclient = c.client(follower);
    t.teardown(() => fclient.close());
    await until("the follower has the put", async () =>
      (await fclient.kvGet("before/snapshot")).revision === before.revision ? true : undefined,
    );
    const s = await fclient.status();
    const bad = {
      ...message({ type: "snap", from: leader, to: follower, term: s.term }),
      snapshot: {
        meta: { index: s.commit + 1000, term: s.term, conf: { voters: ["e1", "e2", "e3"], learners: [] } },
        data: new TextEncoder().encode("this is not JSON {"),
      },
    };
    const data = bad.snapshot.data;
    const frames = [
      encodeFrame({ message: wire(bad, CLUSTER) }),
      encodeFrame({ chunk: { offset: 0, data, last: true } }),
    ];
    const sent = await rawStream(
      c.nodes.get(follower)!.addr,
      frames,
      tokenMetadata(c.roleToken("elector", leader)),
    );
    t.is(sent.code, grpc.status.OK, `the stream was taken (authenticated as ${leader}): ${sent.details}`);
    const node = c.nodes.get(follower)!;
    await until("the refusal in the follower's log", async () =>
      node.output.includes("refused a snapshot from a peer that would not load") ? true : undefined,
    );
    t.regex(node.output, new RegExp(`snapshot at ${s.commit + 1000} is not valid JSON`));

    // It keeps serving and committing.
    const after = await api.kvPut("after/snapshot", "also-kept");
    await until("the follower has the later put", async () =>
      (await fclient.kvGet("after/snapshot")).revision === after.revision ? true : undefined,
    );

    // Stop and start: it loads its old state (it would fail "snapshot at ... is not valid
    // JSON" on every start had the snapshot been written).
    t.is(await c.terminate(follower), 0);
    c.start(follower);
    const again = c.client(follower);
    t.teardown(() => again.close());
    const kept = await until("the restarted follower serves its old state", async () => {
      const r = await again.kvGet("after/snapshot");
      return r.found ? r : undefined;
    });
    t.is(kept.value, "also-kept");
    t.is((await again.kvGet("before/snapshot")).value, "kept");
    t.false(/not valid JSON/.test(node.output), "the restarted follower read no bad snapshot");
    t.is(node.proc?.exitCode, null, "still running");
  },
);

test.serial(
  "kv quota: puts past KV_QUOTA_BYTES are RESOURCE_EXHAUSTED naming the quota; a delete works and a put fits again",
  async (t) => {
    const { c, api } = await clusterUp(t, { names: ["e1", "e2", "e3"], logLevel: "warn" });
    const value = "v".repeat(64 * 1024);
    const started = Date.now();
    const refused: ControlError[] = [];
    let stored = 0;
    const BATCH = 16;
    // 64 MiB of 64 KiB values is 1024 puts: a few more batches than that must hit the quota.
    for (let batch = 0; refused.length === 0 && batch < 80; batch++) {
      const results = await Promise.allSettled(
        Array.from({ length: BATCH }, (_, i) => api.kvPut(`fill/${batch * BATCH + i}`, value)),
      );
      for (const r of results) {
        if (r.status === "fulfilled") stored++;
        else if (r.reason instanceof ControlError) refused.push(r.reason);
        else throw r.reason;
      }
    }
    const fillMs = Date.now() - started;
    t.log(`${stored} puts of 64 KiB stored in ${fillMs} ms before the quota refused one`);
    t.true(refused.length > 0, "the quota refused a put");
    for (const e of refused) {
      t.is(e.code, grpc.status.RESOURCE_EXHAUSTED, e.message);
      t.regex(
        e.message,
        new RegExp(
          `^kv quota exceeded: .* the quota is ${formatBytes(KV_QUOTA_BYTES)} \\(delete keys to make room\\)$`,
        ),
      );
    }
    t.true(stored * (64 * 1024) <= KV_QUOTA_BYTES);

    // The CLI prints the refusal and exits 1.
    const flags = ["--addr", c.nodes.get("e2")!.addr, "--token-file", c.tokenFile];
    const cli = await conclave(["kv", "put", "fill/cli", value, ...flags]);
    t.is(cli.code, 1);
    t.regex(cli.stderr, /^conclave: kv quota exceeded: .* the quota is 64 MiB/);

    // Deletes still work past the quota, and then a put fits again.
    const del = await api.kvDelete("fill/0");
    t.true(del.deleted);
    const again = await api.kvPut("fill/again", value);
    t.true(again.revision > del.revision);
    t.is((await api.kvGet("fill/again")).value.length, value.length);
  },
);
