/**
 * `conclave status`: leader, term, commit index, member counts and the electors. The text form
 * also warns when the electors' handler configurations differ.
 */
import type { Command } from "commander";
import type { StatusResponse } from "../control/control-types.ts";
import { electorRows } from "./output.ts";
import { type ClientFlags, type CliContext, clientOptions } from "./program.ts";

/** `status --json` exactly as docs/cli.md shows it. */
function statusJson(s: StatusResponse): object {
  return {
    leader: s.leader === "" ? null : s.leader,
    term: s.term,
    commit: s.commit,
    applied: s.applied,
    electors: s.electors.map((e) => ({
      name: e.name,
      address: e.address,
      role: e.role,
      match: e.match,
      reachable: e.reachable,
    })),
    members: { up: s.members.up, down: s.members.down, drained: s.members.drained },
  };
}

/**
 * Every elector may lead, so each needs the same handlers (docs/handler-contract.md): ask each reachable
 * elector for the digest of its own configuration and warn when they differ.
 */
async function handlerConfigWarning(
  cli: CliContext,
  s: StatusResponse,
  flags: ClientFlags,
): Promise<string | null> {
  const digests = new Map<string, string>();
  await Promise.all(
    s.electors
      .filter((e) => e.address !== "")
      .map(async (e) => {
        const api = cli.connect(flags, e.address);
        try {
          digests.set(e.name, (await api.status(true)).handlersDigest);
        } catch {
          // unreachable electors are already shown as such
        } finally {
          api.close();
        }
      }),
  );
  if (new Set(digests.values()).size <= 1) return null;
  const groups = [...digests]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([n, d]) => `${n} ${d.slice(0, 8)}`)
    .join(", ");
  return `warning: the electors' handler configurations differ (${groups}); any elector may lead, so give them all the same handlers`;
}

/** Add `status` to the program. */
export function addStatusCommand(program: Command, cli: CliContext): void {
  clientOptions(
    program.command("status").description("leader, term, commit index, electors and their lag"),
  ).action((flags: ClientFlags) =>
    cli.client(flags, async (api) => {
      const s = await api.status();
      if (flags.json) return statusJson(s);
      const warning = await handlerConfigWarning(cli, s, flags);
      return [
        ...(warning ? [warning, ""] : []),
        `leader:   ${s.leader || "(none)"}`,
        `term:     ${s.term}`,
        `commit:   ${s.commit} (applied ${s.applied})`,
        `members:  ${s.members.up} up, ${s.members.down} down, ${s.members.drained} drained`,
        "",
        electorRows(s.electors),
      ].join("\n");
    }),
  );
}
