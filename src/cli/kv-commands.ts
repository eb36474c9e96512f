/**
 * `conclave kv put/get/list/delete`: the replicated configuration store (values up to 64 KiB).
 */
import type { Command } from "commander";
import { ControlError } from "../control/control-types.ts";
import { terminalText } from "./output.ts";
import { type ClientFlags, type CliContext, clientOptions } from "./program.ts";

/** Add the `kv` group and its subcommands to the program. */
export function addKvCommands(program: Command, cli: CliContext): void {
  const kv = program.command("kv").description("replicated configuration (values up to 64 KiB)");
  clientOptions(kv.command("put").argument("<key>").argument("<value>")).action(
    (key: string, value: string, flags: ClientFlags) =>
      cli.client(flags, async (api) => {
        const r = await api.kvPut(key, value);
        return flags.json ? { key, revision: r.revision } : `${key} = ${value} (revision ${r.revision})`;
      }),
  );
  clientOptions(kv.command("get").argument("<key>")).action((key: string, flags: ClientFlags) =>
    cli.client(flags, async (api) => {
      const r = await api.kvGet(key);
      if (!r.found) throw new ControlError(5, `${key}: not found`);
      return flags.json ? { key, value: r.value, revision: r.revision } : r.value;
    }),
  );
  clientOptions(kv.command("list").argument("[prefix]")).action(
    (prefix: string | undefined, flags: ClientFlags) =>
      cli.client(flags, async (api) => {
        const r = await api.kvList(prefix ?? "");
        if (flags.json) return r.items;
        // One line per key: a value's own line breaks must not pass for other keys.
        return r.items.map((i) => terminalText(`${i.key} = ${i.value}`)).join("\n");
      }),
  );
  clientOptions(kv.command("delete").argument("<key>")).action((key: string, flags: ClientFlags) =>
    cli.client(flags, async (api) => {
      const r = await api.kvDelete(key);
      if (flags.json) return { key, deleted: r.deleted, revision: r.revision };
      return r.deleted ? `${key} deleted` : `${key} did not exist`;
    }),
  );
}
