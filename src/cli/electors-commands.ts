/**
 * `conclave electors list/add/remove`: change the voter set safely (an added elector joins as
 * a learner, catches up, and is then promoted).
 */
import type { Command } from "commander";
import { electorRows } from "./output.ts";
import { type ClientFlags, type CliContext, clientOptions } from "./program.ts";

/** Add the `electors` group and its subcommands to the program. */
export function addElectorsCommands(program: Command, cli: CliContext): void {
  const electors = program.command("electors").description("change the voter set safely");
  clientOptions(electors.command("list")).action((flags: ClientFlags) =>
    cli.client(flags, async (api) => {
      const r = await api.electorsList();
      return flags.json ? r.electors : electorRows(r.electors);
    }),
  );
  clientOptions(electors.command("add").argument("<name>").argument("<addr>")).action(
    (name: string, addr: string, flags: ClientFlags) =>
      cli.client(flags, async (api) => {
        const r = await api.electorsAdd(name, addr);
        return flags.json
          ? r.electors
          : `${name} added (joined as a learner, caught up, promoted)\n${electorRows(r.electors)}`;
      }),
  );
  clientOptions(electors.command("remove").argument("<name>")).action((name: string, flags: ClientFlags) =>
    cli.client(flags, async (api) => {
      const r = await api.electorsRemove(name);
      return flags.json ? r.electors : `${name} removed\n${electorRows(r.electors)}`;
    }),
  );
}
