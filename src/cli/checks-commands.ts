/**
 * `conclave checks apply/list/test`: the cluster-wide check definitions. `apply` validates a
 * checks file and distributes it, `list` shows what is in force and, per member, what it
 * refuses to run (`command` checks and `action`s, unless its config sets
 * `allow_remote_commands: true`), and `test` runs a file's checks once, here, with no
 * actions. A bad checks file is bad usage (exit 2).
 */
import type { Command } from "commander";
import { ConfigError } from "../config/config-error.ts";
import type { CheckConfig } from "../config/node-config.ts";
import { loadChecks, readChecksFile } from "../member/checks/check-file.ts";
import { runCheckOnce } from "../member/checks/check-probes.ts";
import { ALLOW_REMOTE_COMMANDS_KEY, judgeRemoteCheck } from "../member/checks/remote-command-policy.ts";
import type { RefusedChecks } from "../contract/check-refusals.ts";
import type { ChecksResponse } from "../control/control-types.ts";
import { jsonLine, table } from "./output.ts";
import { type ClientFlags, type CliContext, clientOptions, UsageError } from "./program.ts";

/** A checks file read and validated for `checks apply/test`; a bad one is a usage error (exit 2). */
function parseChecksForCli(file: string): CheckConfig[] {
  try {
    return loadChecks(file);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** A valid checks file: its raw definitions (what `checks apply` sends) and their validated form. */
function readChecksForCli(file: string): { raw: unknown[]; defs: CheckConfig[] } {
  const defs = parseChecksForCli(file);
  const raw = readChecksFile(file);
  return { raw: Array.isArray(raw) ? raw : ((raw as { checks: unknown[] }).checks ?? []), defs };
}

/**
 * The refusals of a checks answer by member (`{}` from an elector that predates them, whose
 * answer has no `refused_json`).
 */
function refusedOf(r: ChecksResponse): Record<string, RefusedChecks> {
  return r.refusedJson ? (JSON.parse(r.refusedJson) as Record<string, RefusedChecks>) : {};
}

/**
 * What `checks apply` says on stderr about definitions a member refuses by default, so the
 * operator learns it at once rather than from `checks list`; null when there is none.
 */
function remoteCommandNote(defs: readonly CheckConfig[]): string | null {
  const names = defs.filter((d) => judgeRemoteCheck(d, false).kind === "refused").map((d) => d.name);
  if (names.length === 0) return null;
  return (
    `note: ${names.join(", ")} run${names.length === 1 ? "s" : ""} a command (a command check or an action): ` +
    `members refuse ${names.length === 1 ? "it" : "them"} unless their config sets ${ALLOW_REMOTE_COMMANDS_KEY}: true ` +
    "(conclave checks list shows who refused what)"
  );
}

/** `checks list`'s table of refusals, one row per member and check. */
function refusedTable(refused: Record<string, RefusedChecks>): string {
  const rows = Object.entries(refused).flatMap(([member, checks]) =>
    Object.entries(checks).map(([check, reason]) => [member, check, reason]),
  );
  return rows.length === 0 ? "" : `\nrefused by members:\n${table([["MEMBER", "CHECK", "REASON"], ...rows])}`;
}

/** What `checks list` shows as a check's target: its path, URL, address or command. */
function checkTarget(c: Record<string, unknown>): string {
  return String(
    c.path ?? c.url ?? c.address ?? c.cmdline ?? (Array.isArray(c.run) ? c.run.join(" ") : c.run) ?? "",
  );
}

/** `checks test FILE`: run each check once and print the results; exit 1 if any fails. */
async function testChecks(cli: CliContext, defs: CheckConfig[], json: boolean): Promise<number> {
  const results = await Promise.all(defs.map(async (c) => ({ check: c, result: await runCheckOnce(c) })));
  if (json) {
    cli.io.out(
      jsonLine(
        results.map((r) => ({
          name: r.check.name,
          type: r.check.type,
          ok: r.result.ok,
          detail: r.result.detail,
          ms: Math.round(r.result.durationMs),
        })),
      ),
    );
  } else {
    cli.io.out(
      `${table([
        ["NAME", "TYPE", "RESULT", "MS", "DETAIL"],
        ...results.map((r) => [
          r.check.name,
          r.check.type,
          r.result.ok ? "pass" : "FAIL",
          String(Math.round(r.result.durationMs)),
          r.result.detail,
        ]),
      ])}\n`,
    );
  }
  return results.every((r) => r.result.ok) ? 0 : 1;
}

/** Add the `checks` group and its subcommands to the program. */
export function addChecksCommands(program: Command, cli: CliContext): void {
  const checks = program.command("checks").description("cluster-wide check definitions");
  clientOptions(
    checks
      .command("apply")
      .description("validate FILE (YAML/JSON, or gossipcheck's JSON) and distribute it to every member")
      .argument("<file>"),
  ).action((file: string, flags: ClientFlags) => {
    const { raw: list, defs } = readChecksForCli(file);
    const note = remoteCommandNote(defs);
    if (note !== null) cli.io.err(`${note}\n`);
    cli.client(flags, async (api) => {
      const r = await api.checksApply(JSON.stringify(list));
      return flags.json
        ? { version: r.version, checks: JSON.parse(r.checksJson) as unknown }
        : `applied ${list.length} check(s) as version ${r.version}`;
    });
  });
  clientOptions(checks.command("list").description("the cluster-wide checks in force")).action(
    (flags: ClientFlags) =>
      cli.client(flags, async (api) => {
        const r = await api.checksList();
        const list = JSON.parse(r.checksJson) as Record<string, unknown>[];
        const refused = refusedOf(r);
        if (flags.json) return { version: r.version, checks: list, refused };
        if (list.length === 0) return "no cluster-wide checks";
        return `version ${r.version}\n${table([
          ["NAME", "TYPE", "TARGET"],
          ...list.map((c) => [String(c.name), String(c.type), checkTarget(c)]),
        ])}${refusedTable(refused)}`;
      }),
  );
  checks
    .command("test")
    .description("run the checks in FILE once, here, with no actions; exit 1 if any fails")
    .argument("<file>")
    .option("--json", "machine-readable output")
    .action((file: string, flags: { json?: boolean }) => {
      const defs = parseChecksForCli(file);
      // A dry run runs everything here, as the operator; say what members would refuse.
      const note = remoteCommandNote(defs);
      if (note !== null) cli.io.err(`${note}\n`);
      cli.finish(testChecks(cli, defs, flags.json === true));
    });
}
