/**
 * The web status page: one HTML document rendered on the server from a {@link NodeSnapshot},
 * readable without JavaScript, with its style and script as files beside it (`/status.css`,
 * `/status.js`: the page's Content-Security-Policy allows no inline style or script). The
 * script fetches the page's main part again every two seconds and swaps it in, so there is
 * one renderer and the page does not flicker or lose its scroll position. Every value from
 * the cluster (member names, check names, event details) is HTML-escaped: they come from
 * configs and members.
 */
import type { Event } from "../contract/events.ts";
import { healthOf, type NodeSnapshot } from "./node-view.ts";

/** How often the page refreshes itself, in milliseconds. */
export const REFRESH_MS = 2000;

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** `text` safe to place in HTML text or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

/** A table: `rows` are already-escaped cell HTML. */
function table(head: readonly string[], rows: readonly (readonly string[])[], empty: string): string {
  if (rows.length === 0) return `<p class="muted">${escapeHtml(empty)}</p>`;
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join("");
  const trs = rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("\n");
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${trs}\n</tbody></table>`;
}

/** A status word in a coloured badge: `good` green, `bad` red, anything else grey. */
function badge(text: string, tone: "good" | "bad" | "neutral"): string {
  return `<span class="badge ${tone}">${escapeHtml(text)}</span>`;
}

const memberTone = (status: string) => (status === "up" ? "good" : status === "down" ? "bad" : "neutral");
const checkTone = (state: string) => (state === "passing" ? "good" : "bad");

function checksCell(checks: Readonly<Record<string, string>>): string {
  const names = Object.keys(checks).sort();
  if (names.length === 0) return '<span class="muted">none</span>';
  return names.map((n) => badge(`${n}: ${checks[n]}`, checkTone(checks[n]!))).join(" ");
}

/** An event's details in one line, without the fields the other columns show. */
function eventDetails(e: Event): string {
  const text = JSON.stringify(e.details);
  return text === "{}" ? "" : text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

function electorPart(s: NodeSnapshot): string {
  const el = s.elector;
  if (!el) return "";
  const st = el.status;
  const leader = st.leader === null ? badge("no leader", "bad") : escapeHtml(st.leader);
  const electors = table(
    ["elector", "address", "role", "match", "reachable"],
    st.electors.map((e) => [
      escapeHtml(e.name),
      escapeHtml(e.address),
      e.role === "leader" ? badge("leader", "good") : escapeHtml(e.role),
      e.match === null
        ? '<span class="muted" title="only the leader tracks replication">-</span>'
        : String(e.match),
      e.reachable === null
        ? badge("unknown", "neutral")
        : e.reachable
          ? badge("yes", "good")
          : badge("no", "bad"),
    ]),
    "no electors",
  );
  const members = table(
    ["member", "address", "status", "checks", "services"],
    el.members.map((m) => [
      escapeHtml(m.name),
      escapeHtml(m.address),
      badge(m.status, memberTone(m.status)),
      checksCell(m.checks),
      Object.entries(m.services)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([name, v]) =>
          badge(`${name}: ${v.state}${v.master ? ` (epoch ${v.epoch})` : ""}`, v.master ? "good" : "neutral"),
        )
        .join(" ") || '<span class="muted">none</span>',
    ]),
    "no members have registered",
  );
  const events = table(
    ["id", "time", "type", "member", "service", "details"],
    [...el.events]
      .reverse()
      .map((e) => [
        String(e.id),
        escapeHtml(e.time),
        escapeHtml(e.type),
        escapeHtml(e.member ?? ""),
        escapeHtml(e.service ?? ""),
        `<code>${escapeHtml(eventDetails(e))}</code>`,
      ]),
    "no events yet",
  );
  return [
    "<section>",
    `<h2>Cluster</h2>`,
    `<p>leader ${leader} · term ${st.term} · commit ${st.commit} · applied ${st.applied} · ` +
      `members up ${st.members.up}, down ${st.members.down}, drained ${st.members.drained}</p>`,
    electors,
    "<h2>Members</h2>",
    members,
    "<h2>Recent events</h2>",
    events,
    "</section>",
  ].join("\n");
}

function memberPart(s: NodeSnapshot): string {
  const m = s.member;
  if (!m) return "";
  const link =
    m.connectedTo === null
      ? badge("not connected", "bad")
      : `${badge("connected", "good")} to ${escapeHtml(m.connectedTo)}`;
  const services = table(
    ["service", "role", "epoch"],
    m.services.map((r) => [escapeHtml(r.service), escapeHtml(r.state), String(r.epoch)]),
    "no services",
  );
  return [
    "<section>",
    "<h2>This member</h2>",
    `<p>${link} · leader ${escapeHtml(m.leader ?? "unknown")} · ${m.heartbeatsAcked} reports acknowledged</p>`,
    `<p>checks: ${checksCell(m.checks)}</p>`,
    services,
    "</section>",
  ].join("\n");
}

/** The page's main part (what the refresh script swaps in). */
export function renderStatusMain(s: NodeSnapshot): string {
  const h = healthOf(s);
  const health = h.ok
    ? badge("healthy", "good")
    : `${badge("unhealthy", "bad")} ${h.problems.map(escapeHtml).join("; ")}`;
  return [
    `<p>node <strong>${escapeHtml(s.node)}</strong> · ${health} · as of ${escapeHtml(s.time)}` +
      (s.elector ? ` (this elector's applied state)` : "") +
      "</p>",
    electorPart(s),
    memberPart(s),
  ].join("\n");
}

/** `/status.css`: the page's whole style. */
export const STATUS_CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em;margin:0 0 .5em}h2{font-size:1.1em;margin:1.2em 0 .4em}
table{border-collapse:collapse;margin:.3em 0}th,td{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}
th{background:#f4f4f4}code{font-size:12px}.muted{color:#888}
.badge{display:inline-block;padding:0 .45em;border-radius:.6em;font-size:12px;margin:1px 0}
.good{background:#d8f3dc;color:#1b4332}.bad{background:#ffd6d6;color:#7a0000}.neutral{background:#eee;color:#444}
`;

/** `/status.js`: swap in the page's main part (`?part=main`) every {@link REFRESH_MS}. */
export const STATUS_JS = `"use strict";
setInterval(async () => {
  try {
    const r = await fetch("?part=main", { cache: "no-store" });
    if (r.ok) document.getElementById("main").innerHTML = await r.text();
  } catch {}
}, ${REFRESH_MS});
`;

/** The whole page. */
export function renderStatusPage(s: NodeSnapshot): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Conclave · ${escapeHtml(s.node)}</title>
<noscript><meta http-equiv="refresh" content="${REFRESH_MS / 1000}"></noscript>
<link rel="stylesheet" href="status.css">
<script src="status.js" defer></script>
</head>
<body>
<h1>Conclave</h1>
<main id="main">
${renderStatusMain(s)}
</main>
<p class="muted">JSON: <a href="api/status">/api/status</a> · <a href="metrics">/metrics</a> · <a href="healthz">/healthz</a></p>
</body>
</html>
`;
}
