/**
 * `conclave agent --config FILE`: run a node. For the elector role it opens the data dir
 * (bootstrapping a founding node from `cluster.electors`, or starting empty when
 * `cluster.join` is set), serves Raft peers and the control API on `listen`, and drives the
 * Raft group. SIGTERM / SIGINT stop it gracefully: the Ready in progress is finished and
 * the data dir closed.
 */
import { randomInt } from "node:crypto";
import pino, { type Logger } from "pino";
import { SeededRng } from "../raft/index.ts";
import { type Config, ConfigError, loadConfig } from "./config.ts";
import { connectControl } from "./control-client.ts";
import { ControlService, registerControlService } from "./control-service.ts";
import { ElectorNode } from "./elector-node.ts";
import { GrpcPeerTransport, registerRaftPeerService } from "./grpc-peer-transport.ts";
import { createGrpcServer, type GrpcServer } from "./grpc-server.ts";
import { DataDirCorruptError, DataDirLockedError, LevelLogStore } from "./log-store-level.ts";
import { CoordinatorState } from "./state-machine.ts";

/** Cluster name sent with every peer message (a later config key may set it). */
const CLUSTER_NAME = "conclave";

/** A running agent. */
export interface RunningAgent {
  readonly config: Config;
  readonly server: GrpcServer;
  readonly node: ElectorNode;
  /** Stop gracefully. */
  stop(): Promise<void>;
}

/** The agent could not start; `exitCode` says how the CLI should exit (2: bad config). */
export class AgentStartError extends Error {
  override readonly name = "AgentStartError";
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

/** Start an elector from a validated config. */
export async function startElector(config: Config, logger: Logger): Promise<RunningAgent> {
  if (!config.dataDir) throw new AgentStartError(`${config.file}: data_dir: required for an elector`, 2);
  const founders = new Map(Object.entries(config.cluster.electors));
  const tls = config.cluster.tls ?? undefined;
  let store: LevelLogStore;
  try {
    store = await LevelLogStore.open({
      dir: config.dataDir,
      ...(config.cluster.join ? {} : { bootstrap: { voters: [...founders.keys()].sort(), learners: [] } }),
    });
  } catch (e) {
    if (e instanceof DataDirCorruptError || e instanceof DataDirLockedError)
      throw new AgentStartError(e.message, 1);
    throw e;
  }
  const server = await createGrpcServer({
    listen: config.listen,
    token: config.cluster.token,
    logger,
    ...(tls ? { tls } : {}),
  });
  const state = new CoordinatorState(founders);
  const electionTicks = Math.max(
    2,
    Math.round(config.timing.electionTimeoutMs / config.timing.raftHeartbeatMs),
  );
  // Like etcd's --snapshot-count: entries applied between snapshots (tests use small values).
  const snapshotEntries = Number(process.env.CONCLAVE_SNAPSHOT_ENTRIES) || undefined;
  const node = new ElectorNode({
    ...(snapshotEntries ? { snapshotEntries } : {}),
    id: config.name,
    store,
    state,
    founders,
    tickMs: config.timing.raftHeartbeatMs,
    electionTicks,
    rng: new SeededRng(randomInt(2 ** 31)),
    logger,
    onFatal: (err) => {
      logger.fatal({ err }, "cannot continue: a write to the data dir failed; restart to recover from disk");
      process.exit(1);
    },
    transport: (events) => {
      registerRaftPeerService(server, {
        self: config.name,
        cluster: CLUSTER_NAME,
        logger,
        onMessage: events.onMessage,
      });
      return new GrpcPeerTransport({
        self: config.name,
        cluster: CLUSTER_NAME,
        token: config.cluster.token,
        logger,
        events,
        ...(tls ? { tls } : {}),
      });
    },
  });
  const control = new ControlService({
    node,
    state,
    logger,
    requestTimeoutMs: Math.max(2000, 3 * config.timing.electionTimeoutMs),
    catchUpTimeoutMs: 60_000,
    connect: (addr) =>
      connectControl({
        addr,
        token: config.cluster.token,
        timeoutMs: Math.max(2000, 3 * config.timing.electionTimeoutMs),
        retryUnavailable: false,
        ...(tls ? { tls } : {}),
      }),
  });
  registerControlService(server, control, logger);
  node.start();
  logger.info(
    { name: config.name, listen: server.address, dataDir: config.dataDir, term: node.status().term },
    "elector started",
  );
  let stopping: Promise<void> | null = null;
  return {
    config,
    server,
    node,
    stop() {
      stopping ??= (async () => {
        control.close();
        await node.stop();
        await server.close();
        await store.close();
        logger.info("elector stopped");
      })();
      return stopping;
    },
  };
}

/**
 * The `agent` command: load the config, start, and stop on SIGTERM / SIGINT.
 * Resolves with the process exit code once the agent has stopped (or failed to start).
 */
export async function runAgent(configFile: string): Promise<number> {
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
  if (!config.roles.elector) {
    process.stderr.write(
      `${config.file}: roles: the member role is not available yet; only [elector] runs today\n`,
    );
    return 1;
  }
  let agent: RunningAgent;
  try {
    agent = await startElector(config, logger);
  } catch (e) {
    if (e instanceof AgentStartError) {
      process.stderr.write(`${e.message}\n`);
      return e.exitCode;
    }
    process.stderr.write(`cannot start: ${(e as Error).message}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    const onSignal = (signal: string) => {
      logger.info({ signal }, "stopping");
      agent.stop().then(
        () => resolve(0),
        (err: unknown) => {
          logger.error({ err }, "error while stopping");
          resolve(1);
        },
      );
    };
    process.once("SIGTERM", onSignal);
    process.once("SIGINT", onSignal);
  });
}
