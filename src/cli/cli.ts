/**
 * The `conclave` command line. Exit codes: 0 success, 1 failure, 2 bad usage.
 * Client commands take `--addr HOST:PORT` (or CONCLAVE_ADDR, default 127.0.0.1:7400),
 * `--token-file` (or CONCLAVE_TOKEN_FILE), optional `--tls-ca/--tls-cert/--tls-key`, and
 * `--json` for machine-readable output.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import { runCheckOnce } from "../member/checks/check-runner.ts";
import { type CheckConfig, ConfigError, parseChecks, readChecksFile } from "../config/config.ts";
import {
  type ControlApi,
  ControlError,
  type ElectorStatus,
  type StatusResponse,
} from "../control/control-types.ts";

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
class UsageError extends Error {
  override readonly name = "UsageError";
}

interface ClientFlags {
  addr?: string;
  tokenFile?: string;
  json?: boolean;
  tlsCa?: string;
  tlsCert?: string;
  tlsKey?: string;
}

function clientOptions(cmd: Command): Command {
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

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function electorRows(electors: ElectorStatus[]): string {
  return table([
    ["NAME", "ADDRESS", "ROLE", "MATCH", "REACHABLE"],
    ...electors.map((e) => [e.name, e.address, e.role, String(e.match), e.reachable ? "yes" : "no"]),
  ]);
}

/** `status --json` exactly as DESIGN.md shows it. */
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

/** A checks file read and validated for `checks apply/test`; a bad one is a usage error (exit 2). */
function parseChecksForCli(file: string): CheckConfig[] {
  try {
    return parseChecks(readChecksFile(file), file);
  } catch (e) {
    if (e instanceof ConfigError) throw new UsageError(e.message);
    throw e;
  }
}

/** The raw definitions of a valid checks file (what `checks apply` sends). */
function readChecksForCli(file: string): unknown[] {
  parseChecksForCli(file);
  const raw = readChecksFile(file);
  return Array.isArray(raw) ? raw : ((raw as { checks: unknown[] }).checks ?? []);
}

/** Run the CLI with `argv` (without node and script). Resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = new Command("conclave")
    .description("Conclave cluster coordinator")
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError("(run conclave --help for usage)");
  let result: Promise<number> = Promise.resolve(0);

  /** Resolve the client connection from flags and environment. */
  const connect = (flags: ClientFlags, addrOverride?: string): ControlApi => {
    const addr = addrOverride ?? flags.addr ?? io.env.CONCLAVE_ADDR ?? "127.0.0.1:7400";
    if (!/^[^\s]+:\d{1,5}$/.test(addr)) throw new UsageError(`--addr must be HOST:PORT, got "${addr}"`);
    const tokenFile = flags.tokenFile ?? io.env.CONCLAVE_TOKEN_FILE;
    if (!tokenFile) throw new UsageError("--token-file is required (or set CONCLAVE_TOKEN_FILE)");
    let token: string;
    try {
      token = readFileSync(tokenFile, "utf8").trim();
    } catch (e) {
      throw new UsageError(
        `--token-file ${tokenFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    if (token === "") throw new UsageError(`--token-file ${tokenFile}: the file is empty`);
    const tlsParts = [flags.tlsCa, flags.tlsCert, flags.tlsKey];
    if (tlsParts.some(Boolean) && !tlsParts.every(Boolean)) {
      throw new UsageError("--tls-ca, --tls-cert and --tls-key go together");
    }
    const tls = flags.tlsCa ? { ca: flags.tlsCa, cert: flags.tlsCert!, key: flags.tlsKey! } : undefined;
    return io.connect({ addr, token, ...(tls ? { tls } : {}) });
  };

  /** Run a client action: connect, call, print, close; failures become exit 1 with one line. */
  const client = (flags: ClientFlags, action: (api: ControlApi) => Promise<string | object>) => {
    result = (async () => {
      const api = connect(flags);
      try {
        const out = await action(api);
        if (typeof out === "string") io.out(out.endsWith("\n") || out === "" ? out : `${out}\n`);
        else io.out(`${JSON.stringify(out)}\n`);
        return 0;
      } finally {
        api.close();
      }
    })();
  };

  program
    .command("agent")
    .description("run a node")
    .requiredOption("--config <file>", "the node's conclave.yaml")
    .action((opts: { config: string }) => {
      result = io.runAgent(opts.config);
    });

  program
    .command("dev")
    .description("a local demo cluster on loopback: 3 electors, 3 members, a demo handler (npm start)")
    .action(() => {
      result = io.runDev();
    });

  clientOptions(
    program.command("status").description("leader, term, commit index, electors and their lag"),
  ).action((flags: ClientFlags) =>
    client(flags, async (api) => {
      const s = await api.status();
      if (flags.json) return statusJson(s);
      const warning = await handlerConfigWarning(s, flags);
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

  const kv = program.command("kv").description("replicated configuration (values up to 64 KiB)");
  clientOptions(kv.command("put").argument("<key>").argument("<value>")).action(
    (key: string, value: string, flags: ClientFlags) =>
      client(flags, async (api) => {
        const r = await api.kvPut(key, value);
        return flags.json ? { key, revision: r.revision } : `${key} = ${value} (revision ${r.revision})`;
      }),
  );
  clientOptions(kv.command("get").argument("<key>")).action((key: string, flags: ClientFlags) =>
    client(flags, async (api) => {
      const r = await api.kvGet(key);
      if (!r.found) throw new ControlError(5, `${key}: not found`);
      return flags.json ? { key, value: r.value, revision: r.revision } : r.value;
    }),
  );
  clientOptions(kv.command("list").argument("[prefix]")).action(
    (prefix: string | undefined, flags: ClientFlags) =>
      client(flags, async (api) => {
        const r = await api.kvList(prefix ?? "");
        if (flags.json) return r.items;
        return r.items.map((i) => `${i.key} = ${i.value}`).join("\n");
      }),
  );
  clientOptions(kv.command("delete").argument("<key>")).action((key: string, flags: ClientFlags) =>
    client(flags, async (api) => {
      const r = await api.kvDelete(key);
      if (flags.json) return { key, deleted: r.deleted, revision: r.revision };
      return r.deleted ? `${key} deleted` : `${key} did not exist`;
    }),
  );

  /**
   * Every elector may lead, so each needs the same handlers (DESIGN.md): ask each reachable
   * elector for the digest of its own configuration and warn when they differ.
   */
  const handlerConfigWarning = async (s: StatusResponse, flags: ClientFlags): Promise<string | null> => {
    const digests = new Map<string, string>();
    await Promise.all(
      s.electors
        .filter((e) => e.address !== "")
        .map(async (e) => {
          const api = connect(flags, e.address);
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
  };

  const electors = program.command("electors").description("change the voter set safely");
  clientOptions(electors.command("list")).action((flags: ClientFlags) =>
    client(flags, async (api) => {
      const r = await api.electorsList();
      return flags.json ? r.electors : electorRows(r.electors);
    }),
  );
  clientOptions(electors.command("add").argument("<name>").argument("<addr>")).action(
    (name: string, addr: string, flags: ClientFlags) =>
      client(flags, async (api) => {
        const r = await api.electorsAdd(name, addr);
        return flags.json
          ? r.electors
          : `${name} added (joined as a learner, caught up, promoted)\n${electorRows(r.electors)}`;
      }),
  );
  clientOptions(electors.command("remove").argument("<name>")).action((name: string, flags: ClientFlags) =>
    client(flags, async (api) => {
      const r = await api.electorsRemove(name);
      return flags.json ? r.electors : `${name} removed\n${electorRows(r.electors)}`;
    }),
  );

  clientOptions(
    program.command("members").description("each member: status, address, checks, services"),
  ).action((flags: ClientFlags) =>
    client(flags, async (api) => {
      const { members } = await api.members();
      if (flags.json) {
        return members.map((m) => ({
          name: m.name,
          address: m.address,
          status: m.status,
          checks: m.checks,
          services: m.services,
        }));
      }
      return table([
        ["NAME", "ADDRESS", "STATUS", "CHECKS", "SERVICES"],
        ...members.map((m) => [
          m.name,
          m.address,
          m.status,
          Object.entries(m.checks)
            .map(([c, st]) => `${c}:${st}`)
            .join(",") || "-",
          Object.entries(m.services)
            .map(([n, v]) => `${n}:${v.state}${v.master ? `(epoch ${v.epoch})` : ""}`)
            .join(",") || "-",
        ]),
      ]);
    }),
  );

  clientOptions(
    program
      .command("promote")
      .description("planned switchover: demote the old master, then promote MEMBER")
      .argument("<service>")
      .argument("<member>"),
  ).action((service: string, member: string, flags: ClientFlags) =>
    client(flags, async (api) => {
      const r = await api.promote(service, member);
      if (flags.json) return { service, master: member, epoch: r.epoch, previous: r.previous || null };
      return r.previous
        ? `${member} is master of ${service} (epoch ${r.epoch}; was ${r.previous})`
        : `${member} is master of ${service} (epoch ${r.epoch})`;
    }),
  );
  for (const [verb, what] of [
    ["drain", "maintenance mode on: move the member's master roles away, mark it drained"],
    ["undrain", "maintenance mode off"],
  ] as const) {
    clientOptions(program.command(verb).description(what).argument("<member>")).action(
      (member: string, flags: ClientFlags) =>
        client(flags, async (api) => {
          const r = verb === "drain" ? await api.drain(member) : await api.undrain(member);
          if (flags.json) return { member, status: r.status, moved: r.moved };
          return `${member} is ${r.status}${r.moved.length > 0 ? `; master roles moved: ${r.moved.join(", ")}` : ""}`;
        }),
    );
  }

  const checks = program.command("checks").description("cluster-wide check definitions");
  clientOptions(
    checks
      .command("apply")
      .description("validate FILE (YAML/JSON, or gossipcheck's JSON) and distribute it to every member")
      .argument("<file>"),
  ).action((file: string, flags: ClientFlags) => {
    const list = readChecksForCli(file);
    client(flags, async (api) => {
      const r = await api.checksApply(JSON.stringify(list));
      return flags.json
        ? { version: r.version, checks: JSON.parse(r.checksJson) as unknown }
        : `applied ${list.length} check(s) as version ${r.version}`;
    });
  });
  clientOptions(checks.command("list").description("the cluster-wide checks in force")).action(
    (flags: ClientFlags) =>
      client(flags, async (api) => {
        const r = await api.checksList();
        const list = JSON.parse(r.checksJson) as Record<string, unknown>[];
        if (flags.json) return { version: r.version, checks: list };
        if (list.length === 0) return "no cluster-wide checks";
        return `version ${r.version}\n${table([
          ["NAME", "TYPE", "TARGET"],
          ...list.map((c) => [
            String(c.name),
            String(c.type),
            String(
              c.path ??
                c.url ??
                c.address ??
                c.cmdline ??
                (Array.isArray(c.run) ? c.run.join(" ") : c.run) ??
                "",
            ),
          ]),
        ])}`;
      }),
  );
  checks
    .command("test")
    .description("run the checks in FILE once, here, with no actions; exit 1 if any fails")
    .argument("<file>")
    .option("--json", "machine-readable output")
    .action((file: string, flags: { json?: boolean }) => {
      const defs = parseChecksForCli(file);
      result = (async () => {
        const results = await Promise.all(
          defs.map(async (c) => ({ check: c, result: await runCheckOnce(c) })),
        );
        if (flags.json) {
          io.out(
            `${JSON.stringify(results.map((r) => ({ name: r.check.name, type: r.check.type, ok: r.result.ok, detail: r.result.detail, ms: Math.round(r.result.durationMs) })))}\n`,
          );
        } else {
          io.out(
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
      })();
    });

  clientOptions(
    program
      .command("events")
      .description("the committed event log")
      .option("--since <id>", "only events after this id", "0")
      .option("--type <type>", "only events of this type", "")
      .option("--follow", "keep printing new events until interrupted"),
  ).action((flags: ClientFlags & { since: string; type: string; follow?: boolean }) => {
    if (!/^\d+$/.test(flags.since)) throw new UsageError(`--since must be an event id, got "${flags.since}"`);
    result = (async () => {
      const api = connect(flags);
      try {
        let since = Number(flags.since);
        for (;;) {
          const { eventsJson } = await api.events(since, flags.type, 1000);
          for (const line of eventsJson) {
            const e = JSON.parse(line) as {
              id: number;
              time: string;
              type: string;
              member: string | null;
              service: string | null;
              details: object;
            };
            since = e.id;
            if (flags.json) io.out(`${line}\n`);
            else
              io.out(
                `${e.id}  ${e.time}  ${e.type}  ${e.member ?? "-"}  ${e.service ?? "-"}  ${JSON.stringify(e.details)}\n`,
              );
          }
          if (eventsJson.length === 1000) continue;
          if (!flags.follow) return 0;
          await new Promise((r) => setTimeout(r, 500));
        }
      } finally {
        api.close();
      }
    })();
  });

  const handlers = program.command("handlers").description("handler runs");
  clientOptions(
    handlers
      .command("retry")
      .description("run a failed handler again, recorded in the log")
      .argument("<event_id>")
      .argument("[handler]"),
  ).action((eventId: string, handler: string | undefined, flags: ClientFlags) => {
    if (!/^\d+$/.test(eventId)) throw new UsageError(`EVENT_ID must be an event id, got "${eventId}"`);
    client(flags, async (api) => {
      const r = await api.handlersRetry(Number(eventId), handler ?? "");
      return flags.json ? r : `started again: ${r.started.join(", ")}`;
    });
  });

  const audit = program.command("audit").description("the audit log");
  clientOptions(
    audit
      .command("verify")
      .description("recompute the hash chain; report the first broken link")
      .option(
        "--data-dir <dir>",
        "audit a (copied, stopped) elector data dir; compared with the cluster when reachable",
      ),
  ).action((flags: ClientFlags & { dataDir?: string }) => {
    result = flags.dataDir ? verifyDataDir(flags.dataDir, flags) : verifyCluster(flags);
  });

  /** `audit verify` against the cluster: the answering node recomputes its chain. */
  const verifyCluster = async (flags: ClientFlags): Promise<number> => {
    const api = connect(flags);
    try {
      const r = await api.auditVerify();
      if (flags.json) io.out(`${JSON.stringify(r)}\n`);
      else if (r.ok)
        io.out(
          `ok: ${r.checked} events verified${r.anchorId > 0 ? ` from anchor ${r.anchorId}` : ""}; head ${r.headHash}\n`,
        );
      else io.out(`broken at event ${r.brokenId}: ${r.reason}\n`);
      return r.ok ? 0 : 1;
    } finally {
      api.close();
    }
  };

  /** `audit verify --data-dir`: rebuild offline, verify, and compare with the cluster if reachable. */
  const verifyDataDir = async (dir: string, flags: ClientFlags): Promise<number> => {
    const { auditDataDir, firstDivergence } = await import("../storage/audit-data-dir.ts");
    const audit = await auditDataDir(dir);
    const report = (ok: boolean, text: string, extra: object = {}) => {
      io.out(flags.json ? `${JSON.stringify({ ok, message: text, ...extra })}\n` : `${text}\n`);
      return ok ? 0 : 1;
    };
    if (audit.kind === "snapshot-broken") return report(false, `broken in the snapshot: ${audit.message}`);
    if (!audit.verdict.ok) {
      return report(false, `broken at event ${audit.verdict.id}: ${audit.verdict.reason}`, {
        brokenId: audit.verdict.id,
      });
    }
    const haveCluster =
      Boolean(flags.addr ?? io.env.CONCLAVE_ADDR) && Boolean(flags.tokenFile ?? io.env.CONCLAVE_TOKEN_FILE);
    if (!haveCluster) {
      return report(
        true,
        `ok: ${audit.events.length} events rebuilt from ${dir} form an unbroken chain (give --addr and --token-file to compare with the cluster)`,
      );
    }
    const api = connect(flags);
    try {
      const cluster = new Map<number, string>();
      let since = 0;
      for (;;) {
        const { eventsJson } = await api.events(since, "", 10_000);
        for (const j of eventsJson) {
          const e = JSON.parse(j) as { id: number; hash: string };
          cluster.set(e.id, e.hash);
          since = e.id;
        }
        if (eventsJson.length < 10_000) break;
      }
      const d = firstDivergence(audit.events, cluster);
      if (d) {
        return report(
          false,
          `broken at event ${d.id}: it differs from the cluster's committed event (hash ${d.local}, cluster ${d.cluster})`,
          { brokenId: d.id },
        );
      }
      return report(true, `ok: ${audit.events.length} events in ${dir} match the cluster's chain`);
    } finally {
      api.close();
    }
  };

  try {
    await program.parseAsync([...argv], { from: "user" });
    return await result;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; everything else commander refuses is bad usage.
      return e.exitCode === 0 ? 0 : 2;
    }
    if (e instanceof UsageError) {
      io.err(`conclave: ${e.message}\n`);
      return 2;
    }
    if (e instanceof ControlError) {
      io.err(`conclave: ${e.message}\n`);
      return 1;
    }
    io.err(`conclave: ${(e as Error).message}\n`);
    return 1;
  }
}
