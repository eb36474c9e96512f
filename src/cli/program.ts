/**
 * The root of the `conclave` command: the program itself, the client options every client
 * command takes (`--addr`, `--token-file`, `--tls-*`, `--json`), the connection set-up from
 * those options and the environment, and the exit codes (0 success, 1 failure, 2 bad usage).
 * Command groups (the `*-commands.ts` files) add their commands to the program this file makes.
 */
import { status as grpcStatus } from "@grpc/grpc-js";
import { Command, CommanderError, Option } from "commander";
import { HostPortError, splitHostPort } from "../config/host-port.ts";
import { type ControlApi, ControlError } from "../control/control-types.ts";
import { readTokenFile, TokenFileError } from "../rpc/cluster-token.ts";
import { resultText, terminalText } from "./output.ts";
import { speaksTls } from "./tls-probe.ts";

/** Where a CLI run writes, and how it reaches a node (replaceable in tests). */
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
  connect: (options: {
    addr: string;
    token: string;
    tls?: { ca: string; cert: string; key: string };
  }) => ControlApi;
  runAgent: (configFile: string) => Promise<number>;
  runDev: () => Promise<number>;
}

/** Bad usage: exit 2 with this message. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** The client options as commander parses them (see {@link clientOptions}). */
export interface ClientFlags {
  addr?: string;
  tokenFile?: string;
  json?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

/** The node a client command talks to when neither `--addr` nor CONCLAVE_ADDR is given. */
const DEFAULT_ADDR = "127.0.0.1:7400";

/** Add the client options (`--addr`, `--token-file`, `--tls-*`, `--json`) to a command. */
export function clientOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--addr <host:port>", "node to talk to (env CONCLAVE_ADDR, default 127.0.0.1:7400)"),
    )
    .addOption(new Option("--token-file <file>", "file holding the cluster token (env CONCLAVE_TOKEN_FILE)"))
    .addOption(new Option("--tls-ca <file>", "cluster CA certificate, when the cluster uses TLS"))
    .addOption(new Option("--tls-cert <file>", "client certificate"))
    .addOption(new Option("--tls-key <file>", "client key"))
    .option("--json", "machine-readable output");
}

/**
 * What a command group needs from the root: the io, a connection made from the client options,
 * and a place to leave the outcome of the command that ran (the exit code `runCli` resolves with).
 */
export class CliContext {
  #result: Promise<number> = Promise.resolve(0);

  /** @param io where the run writes and how it reaches a node */
  constructor(readonly io: CliIo) {}

  /** The exit code of the command that ran (0 when none recorded one, e.g. `--help`). */
  get result(): Promise<number> {
    return this.#result;
  }

  /** Record the outcome of the command that ran: it resolves with the exit code. */
  finish(result: Promise<number>): void {
    this.#result = result;
  }

  /**
   * Whether both a node address and a credential (a token file, or a client certificate) are
   * given (by option or environment), i.e.
   * whether a command that can work offline should also ask the cluster.
   */
  clusterGiven(flags: ClientFlags): boolean {
    return (
      Boolean(flags.addr ?? this.io.env.CONCLAVE_ADDR) &&
      Boolean(flags.tokenFile ?? this.io.env.CONCLAVE_TOKEN_FILE ?? flags.tlsCert)
    );
  }

  /**
   * Resolve the client connection from flags and environment.
   * @param addrOverride talk to this address in place of `--addr` (e.g. each elector in turn)
   * @throws UsageError for a bad address, a missing or bad token file, or incomplete TLS options
   */
  connect(flags: ClientFlags, addrOverride?: string): ControlApi {
    const addr = addrOverride ?? flags.addr ?? this.io.env.CONCLAVE_ADDR ?? DEFAULT_ADDR;
    try {
      splitHostPort(addr);
    } catch (e) {
      if (e instanceof HostPortError) throw new UsageError(`--addr must be HOST:PORT: ${e.message}`);
      throw e;
    }
    const tlsParts = [flags.tlsCa, flags.tlsCert, flags.tlsKey];
    if (tlsParts.some(Boolean) && !tlsParts.every(Boolean)) {
      throw new UsageError("--tls-ca, --tls-cert and --tls-key go together");
    }
    const tokenFile = flags.tokenFile ?? this.io.env.CONCLAVE_TOKEN_FILE;
    // With a client certificate the certificate names the caller (docs/security.md); a token
    // is then optional.
    if (!tokenFile && !flags.tlsCert) {
      throw new UsageError(
        "--token-file is required (or set CONCLAVE_TOKEN_FILE), unless --tls-cert names you",
      );
    }
    let token = "";
    try {
      if (tokenFile) token = readTokenFile(tokenFile);
    } catch (e) {
      if (e instanceof TokenFileError) throw new UsageError(`--token-file: ${e.problem}`);
      throw e;
    }
    const tls = flags.tlsCa ? { ca: flags.tlsCa, cert: flags.tlsCert!, key: flags.tlsKey! } : undefined;
    const api = this.io.connect({ addr, token, ...(tls ? { tls } : {}) });
    return tls ? api : withTlsHint(api, addr);
  }

  /**
   * Run a client action: connect, call, print (text as is, anything else as one JSON line),
   * close; it exits 0, and a failure becomes exit 1 with one line.
   */
  client(flags: ClientFlags, action: (api: ControlApi) => Promise<string | object>): void {
    this.finish(
      (async () => {
        const api = this.connect(flags);
        try {
          this.io.out(resultText(await action(api)));
          return 0;
        } finally {
          api.close();
        }
      })(),
    );
  }
}

/** What a client command without `--tls-*` says when the node it cannot reach speaks TLS. */
export function tlsHint(addr: string): string {
  return (
    `${addr} speaks TLS: pass the cluster CA and a client certificate with ` +
    "--tls-ca FILE --tls-cert FILE --tls-key FILE (see conclave --help)"
  );
}

/**
 * `api`, connected without TLS, with calls that fail as TLS's hint when it is the reason: a
 * call the node does not answer (UNAVAILABLE) probes whether `addr` speaks TLS, and if so
 * fails with {@link tlsHint} in place of grpc-js's `No connection established`.
 */
function withTlsHint(api: ControlApi, addr: string): ControlApi {
  return new Proxy(api, {
    get(target, key, receiver) {
      const value: unknown = Reflect.get(target, key, receiver);
      if (typeof value !== "function" || key === "close") return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (e) {
          if (e instanceof ControlError && e.code === grpcStatus.UNAVAILABLE && (await speaksTls(addr))) {
            throw new ControlError(e.code, tlsHint(addr));
          }
          throw e;
        }
      };
    },
  });
}

/** The root `conclave` program, writing through `io`, with no commands yet. */
export function createProgram(io: CliIo): Command {
  return new Command("conclave")
    .description("Conclave cluster coordinator")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError("(run conclave --help for usage)")
    .addHelpText(
      "after",
      [
        "",
        "Every command but agent, dev, token and checks test talks to an elector and takes:",
        `  --addr HOST:PORT   the elector (env CONCLAVE_ADDR, default ${DEFAULT_ADDR})`,
        "  --token-file FILE  an operator or reader token, or the cluster token (env CONCLAVE_TOKEN_FILE)",
        "  --tls-ca FILE --tls-cert FILE --tls-key FILE",
        "                     when the cluster uses TLS: its CA, a client certificate and key",
        "  --json             machine-readable output",
        "",
        "Exit codes: 0 success (also when the reader of the output goes away, as with",
        "| head), 1 the command failed, 2 bad usage (an unknown command or option).",
      ].join("\n"),
    );
}

/** The subcommand of `cmd` called `name` (or aliased so), if any. */
function subcommand(cmd: Command, name: string): Command | undefined {
  return cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
}

/**
 * When `argv` gives a command group (the root, `kv`, `electors`, ...) a name that is none of
 * its commands, the argv that makes commander refuse it: the group's path and that name
 * alone. Commander answers `--help` (and `help NAME`) before it looks at the name, so
 * `conclave nosuch --help` would print the root's help and exit 0, and a typo in a script
 * would go unnoticed; parsed without the help, the name is an unknown command (exit 2), with
 * commander's own message and did-you-mean. Undefined when every command named exists.
 */
export function unknownCommandArgv(program: Command, argv: readonly string[]): string[] | undefined {
  const path: string[] = [];
  let cmd = program;
  let i = 0;
  while (cmd.commands.length > 0) {
    // Skip the group's own options (only --help so far) to its first operand.
    while (i < argv.length && argv[i]!.startsWith("-") && argv[i] !== "-") {
      const arg = argv[i]!;
      i++;
      if (arg === "--") break;
      const option = cmd.options.find((o) => o.long === arg || o.short === arg);
      if (option && (option.required || option.optional)) i++; // its value
    }
    const name = argv[i];
    if (name === undefined) return undefined;
    const sub = subcommand(cmd, name);
    if (!sub) {
      if (name !== "help") return [...path, name];
      // `help NAME`: the help of a command of this group.
      const target = argv[i + 1];
      if (target === undefined || target.startsWith("-") || subcommand(cmd, target)) return undefined;
      return [...path, target];
    }
    path.push(name);
    cmd = sub;
    i++;
  }
  return undefined;
}

/**
 * Parse `argv` (without node and script), run the command it names, and resolve with the exit
 * code: 0 success (and `--help`), 1 failure, 2 bad usage. Failures print one `conclave: ` line.
 */
export async function runProgram(
  program: Command,
  context: CliContext,
  argv: readonly string[],
): Promise<number> {
  try {
    await program.parseAsync(unknownCommandArgv(program, argv) ?? [...argv], { from: "user" });
    return await context.result;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; everything else commander refuses is bad usage.
      return e.exitCode === 0 ? 0 : 2;
    }
    // A message may quote the cluster (a name, a refusal): printed through terminalText.
    if (e instanceof UsageError) {
      context.io.err(`conclave: ${terminalText(e.message, true)}\n`);
      return 2;
    }
    if (e instanceof ControlError) {
      context.io.err(`conclave: ${terminalText(e.message, true)}\n`);
      return 1;
    }
    context.io.err(`conclave: ${terminalText((e as Error).message, true)}\n`);
    return 1;
  }
}
