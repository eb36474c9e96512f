/**
 * Multi-process: three elector processes on 127.0.0.1 elect a leader; `kill -9` of the
 * leader gives a new one; the old leader restarts from its data dir and catches up; a
 * follower that was down while the log was compacted catches up through a snapshot.
 */
import test from "ava";
import { ProcessCluster } from "../support/process-cluster.ts";

test.serial(
  "kill -9 of the leader: a new leader is elected, the old one restarts and catches up",
  async (t) => {
    const c = await ProcessCluster.create({ names: ["e1", "e2", "e3"] });
    t.teardown(() => c.destroy());
    c.startAll();
    const first = await c.waitForLeader();
    const api = c.client("e1", 10_000);
    t.teardown(() => api.close());
    for (let i = 0; i < 20; i++) await api.kvPut(`before/${i}`, String(i));

    await c.kill(first);
    const survivor = ["e1", "e2", "e3"].find((n) => n !== first)!;
    const next = await c.waitFor(survivor, (s) => s.leader !== "" && s.leader !== first, 15_000);
    t.not(next.leader, first);
    t.true(next.term > 0);
    const writer = c.client(survivor, 10_000);
    t.teardown(() => writer.close());
    for (let i = 0; i < 20; i++) await writer.kvPut(`after/${i}`, String(i));
    const committed = (await writer.status()).commit;

    c.start(first);
    // The restarted node catches up: its own applied index reaches the commit index, and a
    // linearizable read served by it sees every write.
    const old = c.client(first, 10_000);
    t.teardown(() => old.close());
    const deadline = Date.now() + 15_000;
    let items: { key: string }[] = [];
    while (Date.now() < deadline) {
      try {
        items = (await old.kvList("")).items;
        if (items.length === 40) break;
      } catch {
        // still starting
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    t.is(items.length, 40);
    const status = await c.waitFor(first, (s) => s.leader !== "", 5000);
    t.true(status.commit >= committed);
  },
);

test.serial(
  "a follower that was down while the log was compacted catches up through a snapshot",
  async (t) => {
    const c = await ProcessCluster.create({ names: ["e1", "e2", "e3"], snapshotEntries: 50 });
    t.teardown(() => c.destroy());
    c.startAll();
    const leader = await c.waitForLeader();
    const lagging = ["e1", "e2", "e3"].find((n) => n !== leader)!;
    await c.kill(lagging);
    const api = c.client(leader, 10_000);
    t.teardown(() => api.close());
    for (let i = 0; i < 200; i++) await api.kvPut(`k/${String(i).padStart(3, "0")}`, String(i));

    c.start(lagging);
    const lag = c.client(lagging, 10_000);
    t.teardown(() => lag.close());
    const deadline = Date.now() + 20_000;
    let n = 0;
    while (Date.now() < deadline && n < 200) {
      try {
        n = (await lag.kvList("k/")).items.length;
      } catch {
        // still starting
      }
      if (n < 200) await new Promise((r) => setTimeout(r, 200));
    }
    t.is(n, 200);
    t.regex(c.nodes.get(lagging)!.output, /restored a snapshot from the leader/);
  },
);

test.serial("a leader stopped with SIGTERM hands leadership over before it exits", async (t) => {
  const c = await ProcessCluster.create({ names: ["e1", "e2", "e3"] });
  t.teardown(() => c.destroy());
  c.startAll();
  const leader = await c.waitForLeader();
  const output = () => c.nodes.get(leader)!.output;
  t.is(await c.terminate(leader), 0);
  t.regex(output(), /stopping: handing leadership over/);
  const to = output().match(/"to":"(e\d)"/)?.[1];
  t.truthy(to);
  const survivor = ["e1", "e2", "e3"].find((n) => n !== leader)!;
  const s = await c.waitFor(survivor, (x) => x.leader !== "" && x.leader !== leader, 10_000);
  t.is(s.leader, to ?? "", "the node it handed over to leads");
});
