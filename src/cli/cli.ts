/**
 * The `conclave` command line. Exit codes: 0 success, 1 failure, 2 bad usage.
 * Client commands take `--addr HOST:PORT` (or CONCLAVE_ADDR, default 127.0.0.1:7400),
 * `--token-file` (or CONCLAVE_TOKEN_FILE), optional `--tls-ca/--tls-cert/--tls-key`, and
 * `--json` for machine-readable output.
 *
 * This file only assembles the program: the root and its options are in `program.ts`, each
 * command group adds its commands from its own `*-commands.ts` file, and `output.ts` holds the
 * shared printing. The order below is the order `conclave --help` lists the commands in.
 */
import { addAgentCommands } from "./agent-commands.ts";
import { addChecksCommands } from "./checks-commands.ts";
import { addElectorsCommands } from "./electors-commands.ts";
import { addAuditCommands, addEventsCommand } from "./events-commands.ts";
import { addHandlersCommands } from "./handlers-commands.ts";
import { addKvCommands } from "./kv-commands.ts";
import { addMembersCommands } from "./members-commands.ts";
import { CliContext, type CliIo, createProgram, runProgram } from "./program.ts";
import { addStatusCommand } from "./status-command.ts";
import { addTokenCommands } from "./token-commands.ts";

export type { CliIo } from "./program.ts";

/** Run the CLI with `argv` (without node and script). Resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = createProgram(io);
  const cli = new CliContext(io);
  addAgentCommands(program, cli);
  addStatusCommand(program, cli);
  addKvCommands(program, cli);
  addElectorsCommands(program, cli);
  addMembersCommands(program, cli);
  addChecksCommands(program, cli);
  addEventsCommand(program, cli);
  addHandlersCommands(program, cli);
  addAuditCommands(program, cli);
  addTokenCommands(program, cli);
  return runProgram(program, cli, argv);
}
