/**
 * `conclave handlers retry EVENT_ID [HANDLER]`: run a failed handler of a committed event
 * again; the retry is recorded in the event log. `conclave handlers test HANDLER [--event ID]
 * --config FILE`: a dry run here (handler-dry-run.ts), recorded nowhere.
 */
import type { Command } from "commander";
import { ConfigError } from "../config/config-error.ts";
import { loadConfig } from "../config/load-config.ts";
import { outcomeDetails } from "../elector/leader/handler-attempt.ts";
import { dryRunHandler } from "./handler-dry-run.ts";
import { jsonLine, resultText, terminalText } from "./output.ts";
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

  clientOptions(
    handlers
      .command("test")
      .description("run a handler here once, as the leader would for an event; records nothing")
      .argument("<handler>")
      .option("--event <id>", "the committed event to run it for (default: a synthetic one)")
      .requiredOption("--config <file>", "the elector config that defines the handler"),
  ).action((name: string, flags: ClientFlags & { event?: string; config: string }) => {
    if (flags.event !== undefined && !/^\d+$/.test(flags.event))
      throw new UsageError(`--event must be an event id, got "${flags.event}"`);
    let config;
    try {
      config = loadConfig(flags.config);
    } catch (e) {
      if (e instanceof ConfigError) throw new UsageError(e.message);
      throw e;
    }
    const h = config.handlers.find((x) => x.name === name);
    if (!h) {
      const names = config.handlers.map((x) => x.name).join(", ") || "none";
      throw new UsageError(`no handler "${name}" in ${flags.config} (handlers: ${names})`);
    }
    cli.finish(
      (async () => {
        const api = cli.connect(flags);
        try {
          const r = await dryRunHandler(api, h, flags.event === undefined ? null : Number(flags.event));
          const details = outcomeDetails(r.outcome);
          if (flags.json) {
            cli.io.out(
              jsonLine({
                handler: r.handler,
                event: r.event.id,
                env: r.env,
                stdin: JSON.parse(r.stdin),
                ...details,
              }),
            );
          } else {
            const code =
              r.outcome.kind === "exited"
                ? `exit code ${r.outcome.code ?? r.outcome.signal}`
                : r.outcome.kind;
            cli.io.out(
              terminalText(
                `${r.handler} for event ${r.event.id} (${r.event.type}), dry run: ${code} after ${details.duration_ms} ms`,
              ) + "\n",
            );
            if (typeof details.output === "string" && details.output !== "")
              cli.io.out(resultText(details.output));
          }
          return r.outcome.kind === "exited" && r.outcome.code === 0 ? 0 : 1;
        } finally {
          api.close();
        }
      })(),
    );
  });
}
