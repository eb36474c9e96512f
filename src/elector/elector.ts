/**
 * The elector role: opens the data dir (bootstrapping a founding node from
 * `cluster.electors`, or starting empty when `cluster.join` is set), serves Raft peers, the
 * control API and member streams on `listen`, drives the Raft group, and, while leading,
 * drives the leader-only roles (failure detection, master keeping, handler runs) through one
 * `LeaderRole` list. Loaded only by nodes with the elector role.
 */
import { createHash, randomInt } from "node:crypto";
import type { Logger } from "pino";
import { SeededRng } from "../../raft/index.ts";
import type { Config } from "../config/node-config.ts";
import { connectControl } from "../control/control-client.ts";
import { registerControlService } from "../control/control-grpc.ts";
import { ControlService } from "../control/control-service.ts";
import { ElectorNode } from "./elector-node.ts";
import { GrpcPeerTransport } from "../transport/grpc-peer-transport.ts";
import { registerRaftPeerService } from "../transport/raft-peer-service.ts";
import { createGrpcServer, type GrpcServer } from "../rpc/grpc-server.ts";
import { DataDirCorruptError, DataDirLockedError } from "../storage/data-dir-errors.ts";
import { LevelLogStore } from "../storage/log-store-level.ts";
import { canonicalJson, type JsonValue } from "../contract/canonical-json.ts";
import { eventCommitter } from "./event-stamp.ts";
import { DEFAULT_CLUSTER_NAME } from "../contract/handler-env.ts";
import { HandlerRunner } from "./leader/handler-runner.ts";
import type { LeaderRole } from "./leader/leader-role.ts";
import { registerMemberService } from "./member-service.ts";
import { MasterKeeper } from "./leader/master-keeper.ts";
import { MemberTracker } from "./leader/member-tracker.ts";
import { RefusalRecorder } from "./leader/refusal-recorder.ts";
import { memberView } from "../coordinator/member-view.ts";
import { type ElectorSnapshot, RECENT_EVENTS, statusView } from "../status/node-view.ts";
import { observeHandlerRun } from "../status/latency.ts";
import { CoordinatorState } from "../coordinator/state-machine.ts";
import { electorFaults } from "../fault-injection/elector-faults.ts";
import type { InjectedBug } from "../fault-injection/injected-bug.ts";

/** Cluster name sent with every peer message (a later config key may set it). */
const CLUSTER_NAME = DEFAULT_CLUSTER_NAME;

/** A running agent. */
export interface RunningAgent {
  readonly config: Config;
  readonly server: GrpcServer;
  readonly node: ElectorNode;
  /** This node's own view of the replicated state, for the status page and `/metrics`. */
  view(): Promise<ElectorSnapshot>;
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

/** Options of {@link startElector} beyond the config. */
export interface ElectorStartOptions {
  /**
   * The bug the fault-injection switch turned on (src/fault-injection/), null or absent for
   * none: it picks an alternative at one seam below, never a branch in the logic.
   */
  readonly injectedBug?: InjectedBug | null;
}

/** Start an elector from a validated config. */
export async function startElector(
  config: Config,
  logger: Logger,
  options: ElectorStartOptions = {},
): Promise<RunningAgent> {
  const faults = electorFaults(options.injectedBug ?? null);
  if (!config.dataDir) throw new AgentStartError(`${config.file}: data_dir: required for an elector`, 2);
  const founders = new Map(Object.entries(config.cluster.electors));
  const tls = config.cluster.tls ?? undefined;
  let store: LevelLogStore;
  try {
    store = await LevelLogStore.open({
      dir: config.dataDir,
      warn: (message) => logger.warn(message),
      ...(config.cluster.join ? {} : { bootstrap: { voters: [...founders.keys()].sort(), learners: [] } }),
    });
  } catch (e) {
    if (e instanceof DataDirCorruptError || e instanceof DataDirLockedError)
      throw new AgentStartError(e.message, 1);
    throw e;
  }
  // The config rules give every elector a server auth and an elector token (node-credentials.ts).
  const { server: serverAuth, electorToken } = config.cluster.credentials;
  if (serverAuth === null || electorToken === null) {
    throw new AgentStartError(`${config.file}: cluster: an elector needs cluster.auth or a cluster token`, 2);
  }
  const server = await createGrpcServer({
    listen: config.listen,
    auth: serverAuth,
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
        token: electorToken,
        logger,
        events,
        ...(tls ? { tls } : {}),
      });
    },
  });
  /** Every event this elector decides is stamped and committed through this one function. */
  const commitEvent = eventCommitter({ node });

  // What the elector does only while it leads. A new leader gives members a full grace period.
  const tracker = new MemberTracker({
    memberTimeoutMs: config.timing.memberTimeoutMs,
    now: () => performance.now(),
    members: () => state.members.list(),
    member: (name) => state.members.get(name),
    propose: async (e) => void (await commitEvent({ ...e, service: null })),
    logger,
  });
  const keeper = new MasterKeeper({
    leaseMs: config.timing.masterLeaseMs,
    electionTimeoutMs: config.timing.electionTimeoutMs,
    memberTimeoutMs: config.timing.memberTimeoutMs,
    now: () => performance.now(),
    masters: state.masters,
    members: state.members,
    lastSeen: (name) => tracker.lastSeenAt(name),
    propose: async (e) => void (await commitEvent(e)),
    ...(faults.promotionSafeAt ? { promotionSafeAt: faults.promotionSafeAt } : {}),
    logger,
  });
  const runner = new HandlerRunner({
    self: config.name,
    cluster: CLUSTER_NAME,
    handlers: config.handlers,
    state,
    electionTimeoutMs: config.timing.electionTimeoutMs,
    confirmLeadership: () => node.confirmLeadership(config.timing.electionTimeoutMs),
    onRunEnded: (r) => observeHandlerRun(r.handler, r.outcome, r.durationMs / 1000),
    logger,
    propose: commitEvent,
    ...(faults.runGuard ? { runGuard: faults.runGuard } : {}),
  });
  /** Driven together: activated, stopped, ticked and told of events in one loop each. */
  const refusals = new RefusalRecorder({
    now: () => performance.now(),
    committed: (member) => state.clusterChecks.refusalsOf(member),
    propose: async (e) => void (await commitEvent({ ...e, service: null })),
    logger,
  });
  const roles: readonly LeaderRole[] = [tracker, keeper, runner, refusals];

  const control = new ControlService({
    node: faults.controlNode ? faults.controlNode(node) : node,
    state,
    logger,
    commitEvent,
    retryHandler: (eventId, handler) => runner.retry(eventId, handler),
    requestSwitchover: (service, member) => keeper.requestSwitchover(service, member),
    candidates: (service) => keeper.candidates(service),
    reportedRole: (member, service) => keeper.reported(member, service),
    switchoverTimeoutMs: Math.max(
      10_000,
      4 * config.timing.masterLeaseMs +
        4 * config.timing.memberTimeoutMs +
        4 * config.timing.electionTimeoutMs,
    ),
    handlersDigest: createHash("sha256")
      .update(canonicalJson(config.handlers as unknown as JsonValue))
      .digest("hex"),
    requestTimeoutMs: Math.max(2000, 3 * config.timing.electionTimeoutMs),
    catchUpTimeoutMs: 60_000,
    connect: (addr) =>
      connectControl({
        addr,
        token: electorToken,
        timeoutMs: Math.max(2000, 3 * config.timing.electionTimeoutMs),
        retryUnavailable: false,
        ...(tls ? { tls } : {}),
      }),
  });
  registerControlService(server, control, logger);

  /** Events applied since start, by type (`/metrics`). */
  const eventCounts: Record<string, number> = {};
  // A new leader's roles act only once its own leader-elected entry is applied: everything
  // its predecessors committed is applied by then, so no role judges from a stale view (a
  // duplicate member-down, or attempt 1 of a handler already started).
  node.onApplied((_entry, outcome) => {
    if (outcome.kind !== "result" || outcome.result.type !== "event") return;
    const e = outcome.result.event;
    eventCounts[e.type] = (eventCounts[e.type] ?? 0) + 1;
    const s = node.status();
    if (
      e.type === "leader-elected" &&
      e.details.leader === config.name &&
      s.role === "leader" &&
      e.term === s.term
    ) {
      for (const role of roles) role.becameLeader(e.term);
      return;
    }
    for (const role of roles) role.eventCommitted?.(e);
  });
  node.onLeaderChange((leader) => {
    if (leader !== config.name) {
      for (const role of roles) role.lostLeadership();
      return;
    }
    // "leader-elected: a new leader committed its first entry" — recorded in the log itself.
    commitEvent({
      type: "leader-elected",
      member: null,
      service: null,
      details: { leader: config.name },
    }).catch((err: unknown) => logger.debug({ err }, "could not record leader-elected"));
  });
  const checkTimer = setInterval(
    () => {
      for (const role of roles) role.tick?.();
    },
    Math.max(50, config.timing.heartbeatMs / 2),
  );
  checkTimer.unref();
  const endMemberStreams = registerMemberService(server, {
    node,
    tracker,
    logger,
    extras: {
      keeper,
      clusterChecks: () => state.clusterChecks.get(),
      leaseMs: config.timing.masterLeaseMs,
      refusals,
    },
    joinProblem: (name) => state.joinProblem(name),
  });
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
    async view() {
      return {
        status: statusView(await control.status({ local: true })),
        members: state.members.list().map((m) => memberView(m, state.masters)),
        events: state.events.tail(RECENT_EVENTS),
        eventCounts: { ...eventCounts },
      };
    },
    stop() {
      stopping ??= (async () => {
        clearInterval(checkTimer);
        // Kill running handlers and stop judging before the streams and the node go.
        for (const role of roles) role.lostLeadership();
        endMemberStreams();
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
