/**
 * deploy/prometheus/alerts.yaml: `promtool check rules` accepts it, `promtool test rules`
 * runs its unit tests (deploy/prometheus/alerts.test.yaml: each alert fires on the series
 * that should fire it and not on a healthy cluster's), and every series it reads is one that
 * Conclave exports (src/status/metric-names.ts). The `/metrics` text of a node running both
 * roles, with every histogram observed, passes `promtool check metrics`, ignoring only
 * prom-client's own `nodejs_*_total` gauges (they are gauges named like counters, which that
 * lint reports). Needs Debian's `prometheus` package for promtool; skips naming it otherwise.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import {
  observeApply,
  observeCommit,
  observeFsync,
  observeHandlerRun,
  observeReportRtt,
} from "../../src/status/latency.ts";
import { METRIC } from "../../src/status/metric-names.ts";
import { NodeMetrics } from "../../src/status/node-metrics.ts";

const DIR = fileURLToPath(new URL("../../deploy/prometheus", import.meta.url));
const ALERTS = join(DIR, "alerts.yaml");

function promtoolAvailable(): boolean {
  return spawnSync("promtool", ["--version"], { stdio: "ignore" }).status === 0;
}
const withPromtool = promtoolAvailable() ? test : test.skip;
if (!promtoolAvailable())
  console.log(
    "skipping the promtool checks of deploy/prometheus: promtool is not installed (Debian package prometheus)",
  );

/** Run promtool; its exit status and everything it printed. */
function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const r = spawnSync("promtool", args, { cwd: DIR, input, encoding: "utf8" });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

withPromtool("promtool check rules accepts deploy/prometheus/alerts.yaml", (t) => {
  const r = promtool(["check", "rules", ALERTS]);
  t.is(r.status, 0, r.output);
  t.regex(r.output, /SUCCESS: 6 rules found/);
});

withPromtool("promtool test rules: each alert fires when it should, and only then", (t) => {
  const r = promtool(["test", "rules", "alerts.test.yaml"]);
  t.is(r.status, 0, r.output);
  t.regex(r.output, /SUCCESS/);
});

test("the alerts read only series Conclave exports, and name each alert the docs list", (t) => {
  const text = readFileSync(ALERTS, "utf8");
  const exported = new Set<string>(Object.values(METRIC));
  const read = new Set(
    [...text.matchAll(/\b(conclave_[a-z_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, "")),
  );
  t.true(read.size >= 6);
  for (const name of read) t.true(exported.has(name), `${name} is not a metric Conclave exports`);
  const doc = readFileSync(
    fileURLToPath(new URL("../../docs/status-and-metrics.md", import.meta.url)),
    "utf8",
  );
  for (const [, alert] of text.matchAll(/- alert: (\w+)/g))
    t.true(doc.includes(`\`${alert}\``), `${alert} in the docs`);
});

withPromtool("a node's /metrics text, every histogram observed, passes promtool check metrics", async (t) => {
  const m = new NodeMetrics({ elector: true, member: true });
  t.teardown(() => m.close());
  observeFsync(0.002);
  observeCommit(0.004);
  observeApply(0.0002);
  observeHandlerRun("dns", "succeeded", 0.4);
  observeReportRtt(0.001);
  const text = await m.text({
    node: "web1",
    time: new Date(0).toISOString(),
    elector: {
      status: {
        leader: "web1",
        term: 2,
        commit: 5,
        applied: 5,
        electors: [{ name: "web1", address: "10.0.0.1:7400", role: "leader", match: 5, reachable: true }],
        members: { up: 1, down: 0, drained: 0 },
        answeredBy: "web1",
        handlersDigest: "x",
      },
      members: [],
      events: [],
      eventCounts: { "member-joined": 1 },
    },
    member: {
      connectedTo: "10.0.0.1:7400",
      leader: "web1",
      heartbeatsAcked: 1,
      checks: { nginx: "passing" },
      services: [],
    },
  });
  t.true(text.includes(`${METRIC.storageFsyncDuration}_count 1`), "the histograms are in the text checked");
  const r = promtool(["check", "metrics"], text);
  const problems = r.output
    .split("\n")
    .filter((l) => l.trim() !== "")
    .filter((l) => !/^nodejs_\w+_total non-counter metrics should not have "_total" suffix$/.test(l.trim()));
  t.deepEqual(problems, [], r.output);
});
