/**
 * The snapshot the HTTP endpoints show: `leader` is null when none is known (the control
 * API's wire form is the empty string), `/healthz` says so, and the status page shows no
 * leader, unknown reachability and untracked match indexes as such, not as "no" and 0.
 */
import test from "ava";
import type { StatusResponse } from "../../../src/control/control-types.ts";
import { healthOf, type NodeSnapshot, statusView } from "../../../src/status/node-view.ts";
import { renderStatusMain } from "../../../src/status/status-page.ts";

const wire = (leader: string): StatusResponse => ({
  leader,
  term: 4,
  commit: 2,
  applied: 2,
  electors: [
    { name: "e1", address: "a:1", role: "follower", match: null, reachable: true },
    { name: "e2", address: "a:2", role: "follower", match: null, reachable: null },
  ],
  members: { up: 0, down: 0, drained: 0 },
  answeredBy: "e1",
  handlersDigest: "x",
});

const snapshot = (leader: string): NodeSnapshot => ({
  node: "e1",
  time: "2030-01-01T00:00:00.000Z",
  elector: { status: statusView(wire(leader)), members: [], events: [], eventCounts: {} },
  member: null,
});

test("no leader is null in the snapshot, and in its JSON, not an empty string", (t) => {
  const s = snapshot("");
  t.is(s.elector!.status.leader, null);
  t.regex(JSON.stringify(s), /"status":\{"leader":null,/);
  t.is(snapshot("e2").elector!.status.leader, "e2");
});

test("/healthz's judgement: an elector with no leader is unhealthy, with one it is healthy", (t) => {
  t.deepEqual(healthOf(snapshot("")), { ok: false, problems: ["elector: no leader known"] });
  t.deepEqual(healthOf(snapshot("e2")), { ok: true, problems: [] });
});

test("the page says no leader, and shows an unknown peer as unknown and an untracked match as -", (t) => {
  const html = renderStatusMain(snapshot(""));
  t.regex(html, /leader <span class="badge bad">no leader<\/span>/);
  const rows = html.split("\n").filter((l) => l.startsWith("<tr><td>e"));
  t.is(rows.length, 2);
  t.regex(rows[0]!, /<td><span class="badge good">yes<\/span><\/td><\/tr>$/);
  t.regex(rows[1]!, /<td><span class="badge neutral">unknown<\/span><\/td><\/tr>$/);
  t.false(
    rows.some((r) => r.includes(">0<")),
    "no made-up match index",
  );
  t.true(rows.every((r) => r.includes('title="only the leader tracks replication">-<')));
});
