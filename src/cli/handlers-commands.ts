/**
 * `conclave handlers retry EVENT_ID [HANDLER]`: run a failed handler of a committed event
 * again; the retry is recorded in the event log.
 */
import type { Command } from "commander";
import { type ClientFlags, type CliContext, clientOptions, UsageError } from "./program.ts";

/** Add the `handlers` group and its subcommands to the program. */
export function addHandlersCommands(program: Command, cli: CliContext): void {
  const handlers = program.command("handlers").description("handler runs");
  clientOptions(
    handlers
      .command("retry")
      .description("run a failed handler again, recorded in the log")
      .argument("<event_id>")
      .argument("[handler]"),
  ).action((eventId: string, handler: string | undefined, flags: ClientFlags) => {
    if (!/^\d+$/.test(eventId)) throw new UsageError(`EVENT_ID must be an event id, got "${eventId}"`);
    cli.client(flags, async (api) => {
      const r = await api.handlersRetry(Number(eventId), handler ?? "");
      return flags.json ? r : `started again: ${r.started.join(", ")}`;
    });
  });
}
