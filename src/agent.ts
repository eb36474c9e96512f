/**
 * `conclave agent --config FILE`: run a node in its configured roles. An elector (see
 * elector.ts) holds the replicated state; a member (member/start-member.ts) reports to the
 * electors. A node may be both. SIGTERM / SIGINT stop it gracefully: a member says goodbye
 * (member-left), an elector finishes the Ready in progress and closes its data dir.
 */
import pino from "pino";
import { LEGACY_TOKEN_WARNING } from "./auth/node-credentials.ts";
import { ConfigError } from "./config/config-error.ts";
import { loadConfig } from "./config/load-config.ts";
import type { Config } from "./config/node-config.ts";
import {
  faultInjectionWarning,
  type InjectedBug,
  injectedBugFromEnv,
  UnknownInjectedBugError,
} from "./fault-injection/injected-bug.ts";
import type { NodeViewSource } from "./status/node-view.ts";

/**
 * The `agent` command: load the config, start, and stop on SIGTERM / SIGINT.
 * Resolves with the process exit code once the agent has stopped (or failed to start).
 */
export async function runAgent(configFile: string): Promise<number> {
  // The fault-injection switch (docs/fault-injection.md): read once, here, before anything starts.
  let injectedBug: InjectedBug | null;
  try {
    injectedBug = injectedBugFromEnv(process.env);
  } catch (e) {
    if (e instanceof UnknownInjectedBugError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  let config: Config;
  try {
    config = loadConfig(configFile);
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    throw e;
  }
  const logger = pino({ level: process.env.CONCLAVE_LOG_LEVEL ?? "info", base: { node: config.name } });
  // Loud on every start until the node moves to role tokens: the shared token is every role.
  if (config.cluster.credentials.legacy) logger.warn(LEGACY_TOKEN_WARNING);
  if (injectedBug !== null) logger.error({ injectedBug }, faultInjectionWarning(injectedBug));
  const stops: (() => Promise<void>)[] = [];
  const view: NodeViewSource = { node: config.name };
  if (config.roles.elector) {
    // Imported only here, so a member-only process never loads LevelDB or Raft.
    const { AgentStartError, startElector } = await import("./elector/elector.ts");
    try {
      const elector = await startElector(config, logger, { injectedBug });
      stops.push(() => elector.stop());
      view.elector = () => elector.view();
    } catch (e) {
      if (e instanceof AgentStartError) {
        process.stderr.write(`${e.message}\n`);
        return e.exitCode;
      }
      process.stderr.write(`cannot start: ${(e as Error).message}\n`);
      return 1;
    }
  }
  if (config.roles.member) {
    const { ServicesDirError } = await import("./member/services/services-dir.ts");
    const { startMember } = await import("./member/start-member.ts");
    let member: Awaited<ReturnType<typeof startMember>>;
    try {
      member = await startMember(config, logger, { injectedBug });
    } catch (e) {
      if (e instanceof ServicesDirError) {
        process.stderr.write(`${config.file}: services_dir: ${e.message}\n`);
        for (const stop of stops) await stop();
        return 2;
      }
      throw e;
    }
    logger.info({ name: config.name, electors: Object.keys(config.cluster.electors) }, "member started");
    // The member leaves first, while the elector in this process can still commit it.
    stops.unshift(() => member.stop({ leave: true }));
    view.member = () => member.view();
  }
  if (config.http) {
    // Loaded only when configured: prom-client and the page cost a member nothing otherwise.
    const { StatusHttpBindError, startStatusHttp } = await import("./status/status-http.ts");
    try {
      const http = await startStatusHttp({ listen: config.http, source: view, logger });
      // Closed first: nothing should read a half-stopped node.
      stops.unshift(() => http.close());
    } catch (e) {
      if (!(e instanceof StatusHttpBindError)) throw e;
      process.stderr.write(`${config.file}: ${e.message}\n`);
      for (const stop of stops) await stop();
      return 1;
    }
  }
  return new Promise<number>((resolve) => {
    const onSignal = (signal: string) => {
      logger.info({ signal }, "stopping");
      (async () => {
        for (const stop of stops) await stop();
      })().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, "error while stopping");
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
    // Started by `conclave dev` or a test harness: stop when the parent goes away, even if
    // it was killed outright (its end of our stdin pipe closes), so nothing is orphaned.
    if (process.env.CONCLAVE_EXIT_WITH_PARENT === "1") {
      process.stdin.on("end", () => onSignal("parent exited"));
      process.stdin.on("error", () => onSignal("parent exited"));
      process.stdin.resume();
    }
  });
}
