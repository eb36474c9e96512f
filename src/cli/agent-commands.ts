/**
 * The commands that run Conclave itself in this process rather than talk to a node:
 * `conclave agent` (one node) and `conclave dev` (a local demo cluster).
 */
import type { Command } from "commander";
import type { CliContext } from "./program.ts";

/** Add `agent --config FILE` and `dev` to the program. */
export function addAgentCommands(program: Command, cli: CliContext): void {
  program
    .command("agent")
    .description("run a node")
    .requiredOption("--config <file>", "the node's conclave.yaml")
    .action((opts: { config: string }) => {
      cli.finish(cli.io.runAgent(opts.config));
    });

  program
    .command("dev")
    .description("a local demo cluster on loopback: 3 electors, 3 members, a demo handler (npm start)")
    .action(() => {
      cli.finish(cli.io.runDev());
    });
}
