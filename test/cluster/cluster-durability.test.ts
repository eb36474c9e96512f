/**
 * Multi-process crash safety: `kill -9` of random electors during a write load, then
 * restart. Every write acknowledged to a client must be on every elector, and no two
 * electors may differ at any index they both hold (checked offline in their data dirs).
 * Also: a membership change (add a fourth elector, remove one) under write load loses
 * nothing.
 */
import test from "ava";
import { LevelLogStore } from "../../src/storage/log-store-level.ts";
import { ProcessCluster } from "../support/process-cluster.ts";

/** Put keys in a loop against random live nodes until `stop()`; returns what was acknowledged. */
function writeLoad(c: ProcessCluster, prefix: string) {
  const acked = new Map<string, string>();
  let running = true;
  let attempts = 0;
  // One client per node, reused: gRPC channels reconnect by themselves after a restart.
  const clients = new Map<string, ReturnType<ProcessCluster["client"]>>();
  const done = (async () => {
    let i = 0;
    while (running) {
      const live = [...c.nodes.values()].filter((n) => n.proc);
      if (live.length === 0) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      const node = live[i % live.length]!;
      let api = clients.get(node.name);
      if (!api) {
        api = c.client(node.name, 3000);
        clients.set(node.name, api);
      }
      const key = `${prefix}/${String(i).padStart(5, "0")}`;
      const value = `v${i}`;
      attempts++;
      try {
        await api.kvPut(key, value);
        acked.set(key, value);
      } catch {
        // Not acknowledged: it may or may not be committed; only acknowledged writes are promised.
      }
      i++;
    }
    for (const api of clients.values()) api.close();
  })();
  return {
    acked,
    attempts: () => attempts,
    /** Keep the load running until `n` writes are acknowledged (the test is vacuous otherwise). */
    atLeast: async (n: number, timeoutMs = 30_000) => {
      const deadline = Date.now() + timeoutMs;
      while (acked.size < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    },
    stop: async () => {
      running = false;
      await done;
    },
  };
}

/** Every acknowledged write is readable (linearizably) from each named node. */
async function assertAllPresent(
  t: import("ava").ExecutionContext,
  c: ProcessCluster,
  names: string[],
  acked: Map<string, string>,
  prefix: string,
) {
  const lists: string[] = [];
  for (const name of names) {
    const api = c.client(name, 15_000);
    try {
      const items = (await api.kvList(`${prefix}/`)).items;
      const have = new Map(items.map((x) => [x.key, x.value]));
      const missing = [...acked].filter(([k, v]) => have.get(k) !== v).map(([k]) => k);
      t.deepEqual(missing, [], `${name} lost acknowledged writes`);
      lists.push(JSON.stringify(items));
    } finally {
      api.close();
    }
  }
  t.is(new Set(lists).size, 1, "electors disagree on the key-value state");
}

/** Open each stopped node's data dir and compare the entries at every index they share. */
async function assertLogsAgree(t: import("ava").ExecutionContext, c: ProcessCluster, names: string[]) {
  const logs = new Map<string, Map<number, string>>();
  for (const name of names) {
    const store = await LevelLogStore.open({ dir: c.nodes.get(name)!.dataDir });
    const m = new Map<number, string>();
    const first = store.firstIndex();
    const last = store.lastIndex();
    if (last >= first) {
      for (const e of store.entries(first, last + 1, Number.POSITIVE_INFINITY)) {
        m.set(e.index, `${e.term}:${e.type}:${Buffer.from(e.data).toString("hex")}`);
      }
    }
    // Only committed entries must agree; an uncommitted tail may legitimately differ.
    const commit = store.hardState().commit;
    for (const i of [...m.keys()]) if (i > commit) m.delete(i);
    logs.set(name, m);
    await store.close();
  }
  let compared = 0;
  const entries = [...logs.entries()];
  for (let a = 0; a < entries.length; a++) {
    for (let b = a + 1; b < entries.length; b++) {
      const [na, la] = entries[a]!;
      const [nb, lb] = entries[b]!;
      for (const [i, v] of la) {
        const w = lb.get(i);
        if (w === undefined) continue;
        compared++;
        if (v !== w) t.fail(`${na} and ${nb} differ at committed index ${i}`);
      }
    }
  }
  t.true(compared > 0, "no common committed entries were compared");
}

test.serial("kill -9 of random electors under write load loses no acknowledged write", async (t) => {
  const names = ["e1", "e2", "e3"];
  const c = await ProcessCluster.create({ names, snapshotEntries: 300, logLevel: "warn" });
  t.teardown(() => c.destroy());
  c.startAll();
  await c.waitForLeader();
  const load = writeLoad(c, "crash");
  // Six rounds: kill one random elector (sometimes the leader), let the load run, restart it.
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  for (let round = 0; round < 6; round++) {
    await new Promise((r) => setTimeout(r, 400));
    const victim = names[rand(names.length)]!;
    await c.kill(victim);
    await new Promise((r) => setTimeout(r, 600 + rand(600)));
    c.start(victim);
  }
  await load.atLeast(100);
  await load.stop();
  t.log(`${load.acked.size} of ${load.attempts()} writes acknowledged across 6 kill -9 rounds`);
  t.true(load.acked.size >= 100, "the cluster stopped acknowledging writes");

  await c.waitForLeader();
  await assertAllPresent(t, c, names, load.acked, "crash");
  // SIGTERM stops each elector gracefully (exit 0) and releases its data dir.
  for (const n of names)
    t.is(await c.terminate(n), 0, `${n} did not stop cleanly:\n${c.nodes.get(n)!.output.slice(-1500)}`);
  await assertLogsAgree(t, c, names);
});

test.serial("adding a fourth elector and removing one under write load loses nothing", async (t) => {
  const names = ["e1", "e2", "e3"];
  const c = await ProcessCluster.create({ names, logLevel: "warn" });
  t.teardown(() => c.destroy());
  c.startAll();
  await c.waitForLeader();
  const joiner = await c.addJoiner("e4");
  c.start("e4");
  const load = writeLoad(c, "member");
  await new Promise((r) => setTimeout(r, 500));

  const admin = c.client("e2", 30_000);
  t.teardown(() => admin.close());
  const added = await admin.electorsAdd("e4", joiner.addr);
  t.deepEqual(
    added.electors.map((e) => [e.name, e.role === "learner" ? "learner" : "voter"]),
    [
      ["e1", "voter"],
      ["e2", "voter"],
      ["e3", "voter"],
      ["e4", "voter"],
    ],
  );
  await new Promise((r) => setTimeout(r, 500));
  const removed = await admin.electorsRemove("e1");
  t.deepEqual(
    removed.electors.map((e) => e.name),
    ["e2", "e3", "e4"],
  );
  await c.terminate("e1");
  await load.atLeast(100);
  await load.stop();
  t.true(load.acked.size >= 100, "the cluster stopped acknowledging writes");
  await assertAllPresent(t, c, ["e2", "e3", "e4"], load.acked, "member");
});
