import test from "ava";
import { ProcessCluster } from "/work/main/test/support/process-cluster.ts";
test("repro", async (t) => {
  const c = await ProcessCluster.create({ names: ["e1", "e2", "e3"], logLevel: "info" });
  c.startAll();
  try { await c.waitForLeader(); for (const [n, node] of c.nodes) t.log(n, node.output.slice(0, 1500)); t.pass(); }
  catch (e) { for (const [n, node] of c.nodes) t.log(n, node.output.slice(0, 3000)); t.fail(String(e)); }
  finally { await c.destroy(); }
});
