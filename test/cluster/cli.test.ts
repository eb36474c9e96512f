/**
 * The `conclave` executable as a user runs it: exit codes (0 success, 1 failure, 2 bad
 * usage), one-line errors, the `--json` shapes of docs/cli.md, the cluster token and mutual
 * TLS refusing outsiders, a corrupt data dir refusing to start, and garbage on the gRPC
 * port leaving the node serving.
 */
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test from "ava";
import { ClassicLevel } from "classic-level";
import { makeCa, makeNodeCert, opensslAvailable } from "../fixtures/make-test-certs.ts";
import { freePort, ProcessCluster } from "../support/process-cluster.ts";
import { conclave } from "../support/run-conclave.ts";

let cluster: ProcessCluster;
let addr: string;

test.before(async () => {
  cluster = await ProcessCluster.create({ names: ["e1", "e2", "e3"], logLevel: "info" });
  cluster.startAll();
  await cluster.waitForLeader();
  addr = cluster.nodes.get("e2")!.addr;
});

test.after.always(async () => {
  await cluster?.destroy();
});

const client = () => ["--addr", addr, "--token-file", cluster.tokenFile];

test("kv put, get, list and delete round-trip through a follower, with exit codes", async (t) => {
  const put = await conclave(["kv", "put", "site/title", "Hello", ...client()]);
  t.is(put.code, 0, put.stderr);
  const get = await conclave(["kv", "get", "site/title", ...client()]);
  t.is(get.code, 0, get.stderr);
  t.is(get.stdout, "Hello\n");
  const list = await conclave(["kv", "list", "site/", ...client(), "--json"]);
  t.deepEqual(
    JSON.parse(list.stdout).map((i: { key: string; value: string }) => [i.key, i.value]),
    [["site/title", "Hello"]],
  );
  const del = await conclave(["kv", "delete", "site/title", ...client()]);
  t.is(del.code, 0);
  const missing = await conclave(["kv", "get", "site/title", ...client()]);
  t.is(missing.code, 1);
  t.regex(missing.stderr, /site\/title: not found/);
});

test("a value over 64 KiB is refused with a message naming the limit", async (t) => {
  const r = await conclave(["kv", "put", "big", "x".repeat(64 * 1024 + 1), ...client()]);
  t.is(r.code, 1);
  t.regex(r.stderr, /64 KiB/);
});

test("status --json has exactly the shape docs/cli.md gives", async (t) => {
  const r = await conclave(["status", "--json", ...client()]);
  t.is(r.code, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  t.deepEqual(Object.keys(s).sort(), ["applied", "commit", "electors", "leader", "members", "term"]);
  t.true(["e1", "e2", "e3"].includes(s.leader));
  t.true(Number.isInteger(s.term) && Number.isInteger(s.commit) && Number.isInteger(s.applied));
  t.is(s.electors.length, 3);
  for (const e of s.electors) {
    t.deepEqual(Object.keys(e).sort(), ["address", "match", "name", "reachable", "role"]);
    t.true(["leader", "follower", "candidate", "learner"].includes(e.role));
  }
  t.is(s.electors.filter((e: { role: string }) => e.role === "leader").length, 1);
  t.deepEqual(s.members, { up: 0, down: 0, drained: 0 });
});

test("a wrong token is refused with a clear message, and the node logs the refusal", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-cli-"));
  const wrong = join(dir, "token");
  writeFileSync(wrong, "not-the-cluster-token-123\n", { mode: 0o600 });
  const r = await conclave(["status", "--addr", addr, "--token-file", wrong]);
  t.is(r.code, 1);
  t.regex(r.stderr, /missing or wrong cluster token/);
  t.regex(cluster.nodes.get("e2")!.output, /refused gRPC call: missing or wrong cluster token/);
});

test("bad usage exits 2 with a message", async (t) => {
  const unknown = await conclave(["frobnicate"]);
  t.is(unknown.code, 2);
  const missingArg = await conclave(["kv", "put", "only-key", ...client()]);
  t.is(missingArg.code, 2);
  const noToken = await conclave(["status", "--addr", addr], { CONCLAVE_TOKEN_FILE: "" });
  t.is(noToken.code, 2);
  t.regex(noToken.stderr, /--token-file is required/);
  const badAddr = await conclave(["status", "--addr", "nohostport", "--token-file", cluster.tokenFile]);
  t.is(badAddr.code, 2);
  t.regex(badAddr.stderr, /--addr must be HOST:PORT/);
});

test("an invalid config stops the agent with one line naming the file and key, exit 2", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), "conclave-cfg-"));
  const file = join(dir, "conclave.yaml");
  writeFileSync(
    file,
    [
      "name: web1",
      "roles: [elector]",
      "listen: 127.0.0.1:7499",
      `data_dir: ${dir}/data`,
      "cluster:",
      "  electors: { web1: 127.0.0.1:7499 }",
      `  token_file: ${cluster.tokenFile}`,
      "timing:",
      "  election_timeout: 250",
      "",
    ].join("\n"),
  );
  const r = await conclave(["agent", "--config", file]);
  t.is(r.code, 2);
  const lines = r.stderr.trim().split("\n");
  t.is(lines.length, 1);
  t.regex(lines[0]!, /conclave\.yaml: timing\.election_timeout: .*unit/);
});

test("a corrupted entry in a copied data dir stops start-up with the data dir and index", async (t) => {
  // Copy a stopped elector's data dir, damage one entry, start an agent on the copy.
  const api = cluster.client("e1", 10_000);
  for (let i = 0; i < 5; i++) await api.kvPut(`c/${i}`, "v");
  api.close();
  const e3 = cluster.nodes.get("e3")!;
  await cluster.terminate("e3");
  const dir = mkdtempSync(join(tmpdir(), "conclave-corrupt-"));
  const copy = join(dir, "data");
  cpSync(e3.dataDir, copy, { recursive: true });
  cluster.start("e3");

  const db = new ClassicLevel<Buffer, Buffer>(copy, { keyEncoding: "buffer", valueEncoding: "buffer" });
  let damaged = -1;
  for await (const [key, value] of db.iterator()) {
    if (key[0] === "e".charCodeAt(0) && key.length === 9) {
      damaged = Number(key.readBigUInt64BE(1));
      value[0] = value[0]! ^ 0xff; // the CRC32 of the record
      await db.put(key, value);
      break;
    }
  }
  await db.close();
  t.true(damaged > 0, "found an entry to damage");

  const file = join(dir, "conclave.yaml");
  const port = await freePort();
  writeFileSync(
    file,
    [
      "name: e3",
      "roles: [elector]",
      `listen: 127.0.0.1:${port}`,
      `data_dir: ${copy}`,
      "cluster:",
      "  electors:",
      ...[...cluster.nodes.values()].map(
        (n) => `    ${n.name}: ${n.name === "e3" ? `127.0.0.1:${port}` : n.addr}`,
      ),
      `  token_file: ${cluster.tokenFile}`,
      "",
    ].join("\n"),
  );
  const r = await conclave(["agent", "--config", file]);
  t.is(r.code, 1);
  t.regex(r.stderr, new RegExp(`data dir ${copy}: log entry ${damaged} is corrupt`));
  t.regex(r.stderr, /refusing to start, nothing was changed/);
});

test("garbage bytes sent to the gRPC port do not stop the node", async (t) => {
  const target = cluster.nodes.get("e1")!;
  const [host, port] = target.addr.split(":") as [string, string];
  for (const payload of [
    Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    Buffer.alloc(4096, 0xab),
    Buffer.concat([Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), Buffer.alloc(512, 0x07)]),
  ]) {
    await new Promise<void>((resolve) => {
      const s = connect(Number(port), host, () => s.end(payload));
      s.on("error", () => resolve());
      s.on("close", () => resolve());
      s.setTimeout(2000, () => s.destroy());
    });
  }
  t.is(target.proc?.exitCode, null, "the node is still running");
  const api = cluster.client("e1", 10_000);
  t.teardown(() => api.close());
  const r = await api.kvPut("after-garbage", "ok");
  t.true(r.revision > 0);
});

const tlsTest = opensslAvailable() ? test.serial : test.skip;
if (!opensslAvailable()) console.log("skipping the mutual TLS cluster test: openssl is not installed");

tlsTest(
  "with cluster.tls, electors talk over mutual TLS and a client without a CA certificate is refused",
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), "conclave-tls-"));
    const ca = makeCa(dir, "cluster-ca");
    const rogueCa = makeCa(dir, "rogue-ca");
    const names = ["t1", "t2", "t3"];
    const nodes = Object.fromEntries(
      names.map((n) => [n, makeNodeCert(dir, ca, n, [`DNS:${n}`, "IP:127.0.0.1"])]),
    );
    const rogue = makeNodeCert(dir, rogueCa, "rogue", ["DNS:rogue", "IP:127.0.0.1"]);
    const c = await ProcessCluster.create({ names, tls: { ca: ca.cert, nodes }, logLevel: "info" });
    t.teardown(() => c.destroy());
    c.startAll();
    const leader = await c.waitForLeader(20_000);
    t.true(names.includes(leader));
    const api = c.client("t1", 10_000);
    t.teardown(() => api.close());
    t.true((await api.kvPut("tls", "yes")).revision > 0);

    const base = ["--addr", c.nodes.get("t1")!.addr, "--token-file", c.tokenFile];
    const good = await conclave([
      "kv",
      "get",
      "tls",
      ...base,
      "--tls-ca",
      ca.cert,
      "--tls-cert",
      nodes.t1!.cert,
      "--tls-key",
      nodes.t1!.key,
    ]);
    t.is(good.code, 0, good.stderr);
    t.is(good.stdout, "yes\n");
    const bad = await conclave([
      "kv",
      "get",
      "tls",
      ...base,
      "--tls-ca",
      ca.cert,
      "--tls-cert",
      rogue.cert,
      "--tls-key",
      rogue.key,
    ]);
    t.is(bad.code, 1);
    const plain = await conclave(["kv", "get", "tls", ...base]);
    t.is(plain.code, 1);
  },
);
