/**
 * The event log's commands: `conclave events` (print the committed events, optionally
 * following new ones) and `conclave audit verify` (recompute the hash chain, either on the
 * answering node or offline from a copied data dir, compared with the cluster when reachable).
 */
import type { Command } from "commander";
import type { ControlApi } from "../control/control-types.ts";
import { jsonLine, terminalText } from "./output.ts";
import { type ClientFlags, type CliContext, clientOptions, UsageError } from "./program.ts";

/** How many events `events` asks for per call; a full page means there may be more. */
const EVENTS_PAGE = 1000;

/** How many events `audit verify --data-dir` asks the cluster for per call. */
const AUDIT_PAGE = 10_000;

/** How long `events --follow` waits before asking for new events, in milliseconds. */
const FOLLOW_POLL_MS = 500;

/** The fields of a committed event that `events` prints as text. */
interface EventLine {
  id: number;
  time: string;
  type: string;
  member: string | null;
  service: string | null;
  details: object;
}

/** `events`: print the events after `since` (of `type`, when given); with `follow`, keep polling. */
async function printEvents(
  cli: CliContext,
  api: ControlApi,
  flags: ClientFlags & { since: string; type: string; follow?: boolean },
): Promise<number> {
  let since = Number(flags.since);
  for (;;) {
    const { eventsJson } = await api.events(since, flags.type, EVENTS_PAGE);
    for (const line of eventsJson) {
      const e = JSON.parse(line) as EventLine;
      since = e.id;
      if (flags.json) cli.io.out(`${line}\n`);
      else
        cli.io.out(
          `${terminalText(`${e.id}  ${e.time}  ${e.type}  ${e.member ?? "-"}  ${e.service ?? "-"}  ${JSON.stringify(e.details)}`)}\n`,
        );
    }
    if (eventsJson.length === EVENTS_PAGE) continue;
    if (!flags.follow) return 0;
    await new Promise((r) => setTimeout(r, FOLLOW_POLL_MS));
  }
}

/** Add `events` to the program. */
export function addEventsCommand(program: Command, cli: CliContext): void {
  clientOptions(
    program
      .command("events")
      .description("the committed event log")
      .option("--since <id>", "only events after this id", "0")
      .option("--type <type>", "only events of this type", "")
      .option("--follow", "keep printing new events until interrupted"),
  ).action((flags: ClientFlags & { since: string; type: string; follow?: boolean }) => {
    if (!/^\d+$/.test(flags.since)) throw new UsageError(`--since must be an event id, got "${flags.since}"`);
    cli.finish(
      (async () => {
        const api = cli.connect(flags);
        try {
          return await printEvents(cli, api, flags);
        } finally {
          api.close();
        }
      })(),
    );
  });
}

/** `audit verify` against the cluster: the answering node recomputes its chain. */
async function verifyCluster(cli: CliContext, flags: ClientFlags): Promise<number> {
  const api = cli.connect(flags);
  try {
    const r = await api.auditVerify();
    if (flags.json) cli.io.out(jsonLine(r));
    else if (r.ok)
      cli.io.out(
        `ok: ${r.checked} events verified${r.anchorId > 0 ? ` from anchor ${r.anchorId}` : ""}; head ${terminalText(r.headHash)}\n`,
      );
    else cli.io.out(`broken at event ${r.brokenId}: ${terminalText(r.reason)}\n`);
    return r.ok ? 0 : 1;
  } finally {
    api.close();
  }
}

/** Every committed event's hash, by id, as the cluster reports it. */
async function clusterHashes(api: ControlApi): Promise<Map<number, string>> {
  const cluster = new Map<number, string>();
  let since = 0;
  for (;;) {
    const { eventsJson } = await api.events(since, "", AUDIT_PAGE);
    for (const j of eventsJson) {
      const e = JSON.parse(j) as { id: number; hash: string };
      cluster.set(e.id, e.hash);
      since = e.id;
    }
    if (eventsJson.length < AUDIT_PAGE) return cluster;
  }
}

/** `audit verify --data-dir`: rebuild offline, verify, and compare with the cluster if reachable. */
async function verifyDataDir(cli: CliContext, dir: string, flags: ClientFlags): Promise<number> {
  const { auditDataDir, firstDivergence } = await import("../storage/audit-data-dir.ts");
  const audit = await auditDataDir(dir);
  const report = (ok: boolean, text: string, extra: object = {}) => {
    cli.io.out(flags.json ? jsonLine({ ok, message: text, ...extra }) : `${terminalText(text)}\n`);
    return ok ? 0 : 1;
  };
  if (audit.kind === "snapshot-broken") return report(false, `broken in the snapshot: ${audit.message}`);
  if (!audit.verdict.ok) {
    return report(false, `broken at event ${audit.verdict.id}: ${audit.verdict.reason}`, {
      brokenId: audit.verdict.id,
    });
  }
  if (!cli.clusterGiven(flags)) {
    return report(
      true,
      `ok: ${audit.events.length} events rebuilt from ${dir} form an unbroken chain (give --addr and --token-file to compare with the cluster)`,
    );
  }
  const api = cli.connect(flags);
  try {
    const d = firstDivergence(audit.events, await clusterHashes(api));
    if (d) {
      return report(
        false,
        `broken at event ${d.id}: it differs from the cluster's committed event (hash ${d.local}, cluster ${d.cluster})`,
        { brokenId: d.id },
      );
    }
    return report(true, `ok: ${audit.events.length} events in ${dir} match the cluster's chain`);
  } finally {
    api.close();
  }
}

/** Add the `audit` group and its subcommands to the program. */
export function addAuditCommands(program: Command, cli: CliContext): void {
  const audit = program.command("audit").description("the audit log");
  clientOptions(
    audit
      .command("verify")
      .description("recompute the hash chain; report the first broken link")
      .option(
        "--data-dir <dir>",
        "audit a (copied, stopped) elector data dir; compared with the cluster when reachable",
      ),
  ).action((flags: ClientFlags & { dataDir?: string }) => {
    cli.finish(flags.dataDir ? verifyDataDir(cli, flags.dataDir, flags) : verifyCluster(cli, flags));
  });
}
