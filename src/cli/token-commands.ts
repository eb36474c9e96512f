/**
 * `conclave token init/issue/member`: make the keys of role tokens and the tokens themselves,
 * offline (docs/security.md). Tokens print on stdout alone, so `conclave token member web1
 * --key members.key > web1.token` makes a token file.
 */
import type { Command } from "commander";
import { KeyFileError, readKeyFile } from "../auth/auth-keys.ts";
import { AUTH_ROLES, isAuthRole } from "../auth/auth-role.ts";
import { initKeyDir, KeyDirError } from "../auth/key-dir.ts";
import { mintRoleToken, RoleTokenError } from "../auth/role-token.ts";
import { type CliContext, UsageError } from "./program.ts";

/** Which key file signs each role's tokens (for the hint of `issue`). */
const KEY_OF_ROLE = {
  elector: "peer.key",
  member: "members.key",
  operator: "operators.key",
  reader: "operators.key",
};

/** Print one token of `role` for `name`, made with the key in `keyFile`. */
function issue(cli: CliContext, role: string, name: string, keyFile: string): void {
  cli.finish(
    (async () => {
      if (!isAuthRole(role))
        throw new UsageError(`role must be one of ${AUTH_ROLES.join(", ")}, got ${JSON.stringify(role)}`);
      let key: Buffer;
      try {
        key = readKeyFile(keyFile);
      } catch (e) {
        if (e instanceof KeyFileError) throw new UsageError(`--key: ${e.problem}`);
        throw e;
      }
      try {
        cli.io.out(`${mintRoleToken(key, role, name)}\n`);
      } catch (e) {
        if (e instanceof RoleTokenError) throw new UsageError(e.message);
        throw e;
      }
      return 0;
    })(),
  );
}

/** Add the `token` group and its subcommands to the program. */
export function addTokenCommands(program: Command, cli: CliContext): void {
  const token = program.command("token").description("role tokens and their keys (docs/security.md)");
  token
    .command("init")
    .description("one-time: write peer.key, members.key, operators.key and an operator token to DIR")
    .argument("<dir>")
    .option("--operator <name>", "the first operator's name", "admin")
    .action((dir: string, opts: { operator: string }) => {
      cli.finish(
        (async () => {
          let made;
          try {
            made = initKeyDir(dir, opts.operator);
          } catch (e) {
            if (e instanceof RoleTokenError) throw new UsageError(e.message);
            if (e instanceof KeyDirError) throw new Error(e.message);
            throw e;
          }
          cli.io.out(
            [
              `wrote ${made.peerKeyFile}, ${made.membersKeyFile}, ${made.operatorsKeyFile} (mode 600)`,
              `and the token of operator ${opts.operator}: ${made.operatorTokenFile}`,
              "",
              "On every elector (copy the three key files; they are secrets), in place of token_file:",
              "  cluster:",
              "    auth:",
              `      peer_key_file: ${made.peerKeyFile}`,
              `      members_key_file: ${made.membersKeyFile}`,
              `      operators_key_file: ${made.operatorsKeyFile}`,
              "",
              "On each member-only node, its own token in token_file:",
              `  conclave token member NAME --key ${made.membersKeyFile} > NAME.token`,
              "For the CLI: --token-file " + made.operatorTokenFile,
              `Readers (dashboards): conclave token issue reader NAME --key ${made.operatorsKeyFile}`,
              "",
            ].join("\n"),
          );
          return 0;
        })(),
      );
    });
  token
    .command("issue")
    .description("print the token of NAME in ROLE (elector, member, operator, reader)")
    .argument("<role>")
    .argument("<name>")
    .requiredOption(
      "--key <file>",
      `the role's key: ${Object.entries(KEY_OF_ROLE)
        .map(([r, k]) => `${r} ${k}`)
        .join(", ")}`,
    )
    .action((role: string, name: string, opts: { key: string }) => issue(cli, role, name, opts.key));
  token
    .command("member")
    .description("print member NAME's token (same as issue member NAME)")
    .argument("<name>")
    .requiredOption("--key <file>", "members.key")
    .action((name: string, opts: { key: string }) => issue(cli, "member", name, opts.key));
}
