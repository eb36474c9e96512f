/**
 * The member role of `conclave agent`: services (started in priority order), checks (local,
 * service status and cluster-wide), the lease watchdog, and the link to the electors, wired
 * together. Stopping reverses it: masters demote first (so the leader can promote elsewhere
 * at once), checks stop, services stop in reverse priority, then the member says goodbye.
 */
import type { Logger } from "pino";
import type { Config } from "../config/node-config.ts";
import type { InjectedBug } from "../fault-injection/injected-bug.ts";
import { memberFaults } from "../fault-injection/member-faults.ts";
import { LeaseWatchdog } from "../process/lease-watchdog.ts";
import { MemberAgent } from "./elector-link.ts";
import { MemberChecks } from "./checks/member-checks.ts";
import type { MemberSnapshot } from "../status/node-view.ts";
import { ServiceManager } from "./services/service-manager.ts";
import { readServicesDir, type ServiceDefinition } from "./services/services-dir.ts";

/** A running member. */
export interface RunningMember {
  readonly agent: MemberAgent;
  readonly services: ServiceManager;
  /** This member's link, checks and service roles, for the status page and `/metrics`. */
  view(): MemberSnapshot;
  /** Stop everything; with `leave`, say goodbye (member-left). */
  stop(options: { leave: boolean }): Promise<void>;
}

/**
 * Start the member role of `config`.
 * @throws ServicesDirError when `services_dir` cannot be used (before anything started)
 */
export async function startMember(
  config: Config,
  logger: Logger,
  options: {
    /** The bug the fault-injection switch turned on (src/fault-injection/), null or absent for none. */
    readonly injectedBug?: InjectedBug | null;
  } = {},
): Promise<RunningMember> {
  const faults = memberFaults(options.injectedBug ?? null);
  const defs: ServiceDefinition[] = config.servicesDir
    ? readServicesDir(config.servicesDir, (message) => logger.warn(message))
    : [];
  const needsGuard = defs.some((d) => d.scripts.promote !== undefined || d.scripts.demote !== undefined);
  let agent: MemberAgent | null = null;
  let services: ServiceManager | null = null;
  const guard =
    needsGuard && config.servicesDir
      ? new LeaseWatchdog(config.servicesDir, (d) => services?.watchdogDemoted(d))
      : undefined;
  services = new ServiceManager({
    services: defs,
    logger,
    guard,
    onRoleChange: () => agent?.heartbeat(),
  });
  const manager = services;
  if (defs.length > 0) {
    logger.info({ services: defs.map((d) => `${d.name}(${d.priority})`) }, "starting services");
    await manager.startAll();
  }
  const checks = new MemberChecks({
    local: [...config.checks, ...manager.statusChecks()],
    allowRemoteCommands: config.allowRemoteCommands,
    ...(faults.checkStartState ? { startState: faults.checkStartState } : {}),
    logger,
    onChange: (name, state, detail) => {
      logger.info({ check: name, state, detail }, "check changed");
      agent?.reportCheck(name, state, detail);
      if (state === "passing" && name.startsWith("service:")) manager.statusPassing(name.slice(8));
    },
  });
  const tls = config.cluster.tls ?? undefined;
  agent = new MemberAgent({
    name: config.name,
    address: config.advertise,
    electors: Object.values(config.cluster.electors),
    // Its member token (or the legacy shared one); the config rules give every member one.
    token: config.cluster.credentials.memberToken ?? "",
    heartbeatMs: config.timing.heartbeatMs,
    services: defs.map((d) => d.name),
    checkStates: () => checks.states(),
    roles: () => manager.roles(),
    checksVersion: () => checks.version,
    refusals: () => checks.refusals(),
    onChecks: (version, json) => {
      checks.setCluster(version, json);
      // Refused definitions are reported as refused, never as failing (member-checks.ts).
      agent?.reportRefusals();
    },
    onGrants: (g) => manager.grant(g),
    logger,
    ...(tls ? { tls } : {}),
  });
  checks.start();
  agent.start();
  const link = agent;
  return {
    agent: link,
    services: manager,
    view: () => ({
      ...link.state,
      checks: checks.states(),
      services: manager.roles(),
    }),
    async stop({ leave }) {
      await checks.stop();
      await manager.stopAll();
      await link.stop({ leave });
    },
  };
}
