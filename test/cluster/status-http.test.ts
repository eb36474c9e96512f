/**
 * The HTTP port (`http:`): the status page, `/api/status`, `/metrics` and `/healthz`, first
 * against a fake node view (escaping, health, methods, a failing source, the Host check
 * against DNS rebinding, the page's script and style as files under a CSP that allows
 * nothing inline), then on real
 * processes: an elector's page lists the committed members and its latency histograms
 * count, a member's counts its report round trips, and a member-only node's `/healthz` turns
 * 503 when it loses every elector; on every elector of a healthy cluster every
 * `conclave_elector_reachable` series reads 1, and an elector that lost its quorum says
 * `"leader": null`.
 */
import { request } from "node:http";
import { createServer } from "node:net";
import test from "ava";
import pino from "pino";
import { freePort } from "../../src/dev/free-port.ts";
import { METRIC } from "../../src/status/metric-names.ts";
import type {
  ElectorSnapshot,
  ElectorStatusView,
  MemberSnapshot,
  NodeViewSource,
} from "../../src/status/node-view.ts";
import { escapeHtml } from "../../src/status/status-page.ts";
import { StatusHttpBindError, startStatusHttp } from "../../src/status/status-http.ts";
import { clusterUp, until } from "../support/cluster-wait.ts";

const logger = pino({ level: "silent" });

function status(leader: string | null): ElectorStatusView {
  return {
    leader,
    term: 7,
    commit: 42,
    applied: 41,
    electors: [
      {
        name: "e1",
        address: "127.0.0.1:7401",
        role: leader === "e1" ? "leader" : "follower",
        match: 42,
        reachable: true,
      },
      { name: "e2", address: "127.0.0.1:7402", role: "follower", match: 40, reachable: false },
    ],
    members: { up: 1, down: 1, drained: 0 },
    answeredBy: "e1",
    handlersDigest: "x",
  };
}

function electorSnapshot(leader: string | null = "e1"): ElectorSnapshot {
  return {
    status: status(leader),
    members: [
      {
        name: "web1",
        address: "10.0.0.1:7400",
        status: "up",
        checks: { nginx: "passing" },
        services: { db: { state: "master", master: true, epoch: 3 } },
      },
      {
        name: "<script>alert(1)</script>",
        address: "10.0.0.2:7400",
        status: "down",
        checks: { nginx: "failing" },
        services: {},
      },
    ],
    events: [
      {
        id: 40,
        term: 7,
        time: "2026-12-01T10:00:00.000Z",
        type: "member-down",
        member: "<script>alert(1)</script>",
        service: null,
        details: { note: "<b>" },
        hash: "a".repeat(64),
      },
    ],
    eventCounts: { "member-down": 1, "leader-elected": 2 },
  };
}

const memberSnapshot = (connectedTo: string | null): MemberSnapshot => ({
  connectedTo,
  leader: "e1",
  heartbeatsAcked: 12,
  checks: { nginx: "passing", disk: "failing" },
  services: [{ service: "db", state: "master", epoch: 3 }],
});

async function serve(t: import("ava").ExecutionContext, source: NodeViewSource) {
  const http = await startStatusHttp({ listen: `127.0.0.1:${await freePort()}`, source, logger });
  t.teardown(() => http.close());
  const base = `http://127.0.0.1:${http.port}`;
  return (path: string, init?: RequestInit) => fetch(`${base}${path}`, init);
}

test("the page lists electors, members and events, escaping everything from the cluster", async (t) => {
  const get = await serve(t, { node: "e1", elector: async () => electorSnapshot() });
  const r = await get("/");
  t.is(r.status, 200);
  t.regex(r.headers.get("content-type")!, /^text\/html/);
  t.is(r.headers.get("x-content-type-options"), "nosniff");
  const html = await r.text();
  t.regex(html, /^<!doctype html>/);
  t.regex(html, /leader e1 · term 7 · commit 42 · applied 41/);
  t.regex(html, /web1/);
  t.regex(html, /db: master \(epoch 3\)/);
  t.regex(html, /nginx: failing/);
  t.regex(html, /member-down/);
  t.false(html.includes("<script>alert"), "a member name is never markup");
  t.true(html.includes(escapeHtml("<script>alert(1)</script>")));
  t.false(html.includes('"<b>"'));
  // The refresh script asks for the main part only: no document around it.
  const part = await (await get("/?part=main")).text();
  t.false(part.includes("<html"));
  t.regex(part, /web1/);
});

test("/api/status is the snapshot as JSON; /healthz is 200 with a leader, 503 naming the problem without", async (t) => {
  let leader: string | null = "e1";
  const get = await serve(t, {
    node: "web1",
    elector: async () => electorSnapshot(leader),
    member: () => memberSnapshot("127.0.0.1:7401"),
  });
  const api = (await (await get("/api/status")).json()) as Record<string, unknown>;
  t.is(api.node, "web1");
  t.like(api, { elector: { status: { leader: "e1", term: 7 } }, member: { connectedTo: "127.0.0.1:7401" } });
  const ok = await get("/healthz");
  t.is(ok.status, 200);
  t.is(await ok.text(), "ok\n");
  leader = null;
  t.like(await (await get("/api/status")).json(), { elector: { status: { leader: null } } });
  const bad = await get("/healthz");
  t.is(bad.status, 503);
  t.is(await bad.text(), "elector: no leader known\n");
  const page = await (await get("/")).text();
  t.regex(page, /no leader/);
  t.regex(page, /unhealthy/);
});

test("/metrics: the node's series in Prometheus text, only for the roles it runs", async (t) => {
  const both = await serve(t, {
    node: "web1",
    elector: async () => electorSnapshot(),
    member: () => memberSnapshot(null),
  });
  const r = await both("/metrics");
  t.is(r.status, 200);
  t.regex(r.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
  const text = await r.text();
  for (const line of [
    "conclave_raft_term 7",
    "conclave_raft_commit_index 42",
    "conclave_raft_is_leader 1",
    'conclave_elector_reachable{elector="e2"} 0',
    'conclave_members{status="down"} 1',
    'conclave_member_check_passing{member="web1",check="nginx"} 1',
    'conclave_service_master{service="db",member="web1"} 1',
    'conclave_events_applied_total{type="leader-elected"} 2',
    "conclave_member_connected 0",
    "conclave_healthy 0",
    'conclave_check_passing{check="disk"} 0',
    'conclave_service_role{service="db",state="master"} 1',
    'conclave_service_role{service="db",state="standby"} 0',
    "conclave_member_reports_acknowledged_total 12",
  ]) {
    t.true(text.split("\n").includes(line), line);
  }
  t.regex(text, /^process_resident_memory_bytes \d+/m);
  // A member-only node has no Raft series at all (not a misleading 0).
  const memberOnly = await serve(t, { node: "web2", member: () => memberSnapshot("127.0.0.1:7401") });
  const m = await (await memberOnly("/metrics")).text();
  t.false(m.includes("conclave_raft_term"));
  t.true(m.split("\n").includes("conclave_member_connected 1"));
});

test("read-only: other methods are 405, unknown paths 404, HEAD has no body; a failing source is a 500 and the port keeps serving", async (t) => {
  let fail = true;
  const get = await serve(t, {
    node: "e1",
    elector: async () => {
      if (fail) throw new Error("boom");
      return electorSnapshot();
    },
  });
  const post = await get("/", { method: "POST", body: "x" });
  t.is(post.status, 405);
  t.is(post.headers.get("allow"), "GET, HEAD");
  t.is((await get("/nope")).status, 404);
  const broken = await get("/healthz");
  t.is(broken.status, 500);
  t.regex(await broken.text(), /internal error/);
  fail = false;
  const head = await get("/", { method: "HEAD" });
  t.is(head.status, 200);
  t.is(await head.text(), "");
  t.is((await get("/healthz")).status, 200);
});

/** GET `path` from 127.0.0.1:`port` with this `Host` header (fetch cannot set one). */
function getWithHost(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, headers: { Host: host } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

test("DNS rebinding: a Host that is not this port's is a 421 on every path, before any snapshot", async (t) => {
  let snapshots = 0;
  const http = await startStatusHttp({
    listen: `127.0.0.1:${await freePort()}`,
    source: {
      node: "e1",
      elector: async () => {
        snapshots++;
        return electorSnapshot();
      },
    },
    logger,
  });
  t.teardown(() => http.close());
  for (const path of ["/", "/api/status", "/metrics", "/healthz", "/status.js"]) {
    const r = await getWithHost(http.port, path, `rebind.attacker.example:${http.port}`);
    t.is(r.status, 421, path);
    t.regex(r.body, /^misdirected request: Host "rebind\.attacker\.example:\d+" is not a name or address/);
  }
  t.is(snapshots, 0, "nothing about the node was read");
  t.is((await getWithHost(http.port, "/healthz", `localhost:${http.port}`)).status, 200, "an ssh -L tunnel");
  t.is((await getWithHost(http.port, "/healthz", "localhost:8080")).status, 200, "whatever the port");
  t.is((await getWithHost(http.port, "/healthz", `127.0.0.1:${http.port}`)).status, 200);
});

test("the page's style and script are files, under a CSP that allows nothing inline", async (t) => {
  const get = await serve(t, { node: "e1", elector: async () => electorSnapshot() });
  const page = await get("/");
  const csp = page.headers.get("content-security-policy")!;
  t.false(csp.includes("unsafe-inline"), csp);
  t.regex(csp, /script-src 'self'/);
  t.regex(csp, /style-src 'self'/);
  const html = await page.text();
  t.false(/<script>|<style>|\sstyle=|\son[a-z]+=/.test(html), "no inline script, style or handler");
  t.regex(html, /<script src="status\.js" defer><\/script>/);
  t.regex(html, /<link rel="stylesheet" href="status\.css">/);
  const js = await get("/status.js");
  t.is(js.status, 200);
  t.regex(js.headers.get("content-type")!, /^text\/javascript/);
  t.regex(await js.text(), /fetch\("\?part=main"/);
  const css = await get("/status.css");
  t.regex(css.headers.get("content-type")!, /^text\/css/);
  t.regex(await css.text(), /\.badge\{/);
});

test("a port already in use is a StatusHttpBindError naming the address", async (t) => {
  const port = await freePort();
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(port, "127.0.0.1", () => r()));
  t.teardown(() => blocker.close());
  const err = await t.throwsAsync(
    startStatusHttp({ listen: `127.0.0.1:${port}`, source: { node: "e1" }, logger }),
    { instanceOf: StatusHttpBindError },
  );
  t.regex(err!.message, new RegExp(`http: cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
});

test.serial(
  "real processes: an elector's page shows the committed members; a member's /healthz is 503 once every elector is gone",
  async (t) => {
    const [electorHttp, memberHttp] = [await freePort(), await freePort()];
    const { c } = await clusterUp(t, {
      names: ["e1", "e2", "e3"],
      members: ["m1", "m2"],
      logLevel: "warn",
      nodeExtra: { e1: `http: 127.0.0.1:${electorHttp}`, m1: `http: 127.0.0.1:${memberHttp}` },
    });
    const page = await until("the page lists both members", async () => {
      const html = await (await fetch(`http://127.0.0.1:${electorHttp}/`)).text();
      return html.includes(">m1<") && html.includes(">m2<") ? html : undefined;
    });
    t.regex(page, /member-joined/);
    t.is((await fetch(`http://127.0.0.1:${electorHttp}/healthz`)).status, 200);
    const metrics = await (await fetch(`http://127.0.0.1:${electorHttp}/metrics`)).text();
    t.true(metrics.split("\n").includes('conclave_members{status="up"} 2'), metrics);
    // Every elector writes its log with fsync and applies the members' events.
    t.true(count(metrics, METRIC.storageFsyncDuration) > 0, metrics);
    t.true(count(metrics, METRIC.applyDuration) > 0, metrics);

    await until("m1 healthy", async () =>
      (await fetch(`http://127.0.0.1:${memberHttp}/healthz`)).status === 200 ? true : undefined,
    );
    const rtt = await until("m1 has timed an acknowledged report", async () => {
      const text = await (await fetch(`http://127.0.0.1:${memberHttp}/metrics`)).text();
      return count(text, METRIC.memberReportRtt) > 0 ? text : undefined;
    });
    t.false(rtt.includes(METRIC.storageFsyncDuration), "a member-only node has no elector histograms");
    for (const e of ["e1", "e2", "e3"]) await c.kill(e);
    const down = await until("m1 unhealthy", async () => {
      const r = await fetch(`http://127.0.0.1:${memberHttp}/healthz`);
      return r.status === 503 ? r.text() : undefined;
    });
    t.is(down, "member: not connected to an elector\n");
  },
);

/** The `_count` of a label-less histogram in a scrape (-1 when absent). */
function count(metrics: string, histogram: string): number {
  const line = metrics.split("\n").find((l) => l.startsWith(`${histogram}_count `));
  return line === undefined ? -1 : Number(line.split(" ")[1]);
}

/** The `conclave_elector_reachable` series of a scrape, by elector. */
function reachableSeries(metrics: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const m of metrics.matchAll(
    new RegExp(`^${METRIC.electorReachable}\\{elector="([^"]+)"\\} (\\S+)$`, "gm"),
  ))
    out.set(m[1]!, Number(m[2]));
  return out;
}

test.serial(
  "real processes: on every elector of a healthy cluster every conclave_elector_reachable series reads 1; the leader lists all three and commits time; an elector without quorum has leader null",
  async (t) => {
    const names = ["e1", "e2", "e3"];
    const ports = new Map<string, number>();
    for (const n of names) ports.set(n, await freePort());
    const { c } = await clusterUp(t, {
      names,
      logLevel: "warn",
      nodeExtra: Object.fromEntries(names.map((n) => [n, `http: 127.0.0.1:${ports.get(n)}`])),
    });
    const scrape = async (n: string) => (await fetch(`http://127.0.0.1:${ports.get(n)}/metrics`)).text();
    const leader = await c.waitForLeader();
    // Poll: just after start a node may not have heard from everyone yet ("unknown", absent).
    const views = await until(
      "every elector's reachable series to read 1, the leader's for all three",
      async () => {
        const out = new Map<string, Map<string, number>>();
        for (const n of names) {
          const series = reachableSeries(await scrape(n));
          const complete = n === leader ? series.size === 3 : series.has(n) && series.has(leader);
          if (!complete || [...series.values()].some((v) => v !== 1)) return undefined;
          out.set(n, series);
        }
        return out;
      },
      20_000,
    );
    t.deepEqual([...views.get(leader)!.keys()].sort(), names);
    for (const n of names) {
      t.true(
        [...views.get(n)!.values()].every((v) => v === 1),
        `${n}: ${[...views.get(n)!]}`,
      );
      // Only the leader tracks replication: no match index series elsewhere.
      const text = await scrape(n);
      t.is(text.includes(`${METRIC.electorMatchIndex}{`), n === leader, n);
    }
    // The leader committed (at least) its leader-elected entry: one commit latency observed.
    t.true(count(await scrape(leader), METRIC.proposalCommitDuration) > 0);

    // Two electors gone: the survivor loses its leader, and says so with null.
    const [survivor, ...others] = names;
    for (const n of others) await c.kill(n);
    const api = await until("the survivor to know no leader", async () => {
      const body = (await (await fetch(`http://127.0.0.1:${ports.get(survivor!)}/api/status`)).json()) as {
        elector: { status: { leader: string | null } };
      };
      return body.elector.status.leader === null ? body : undefined;
    });
    t.is(api.elector.status.leader, null);
    t.true((await scrape(survivor!)).split("\n").includes(`${METRIC.raftHasLeader} 0`));
  },
);
