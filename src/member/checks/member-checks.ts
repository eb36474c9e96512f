/**
 * All the checks one member runs: its own (`checks:` of its config), its services' `status`
 * scripts, and the cluster-wide definitions the leader sends (`conclave checks apply`). Each
 * runs in a {@link CheckRunner}; a state change is reported through `onChange`, which the agent
 * turns into one message to the leader (the leader commits check-failing / check-passing).
 *
 * Names are unique per member: a cluster-wide check whose name is taken by a local check or a
 * service's status check is not run here (logged), since the local definition is the more
 * specific one.
 *
 * Remote code (docs/checks.md#remote-commands): a cluster-wide `command` check, or one with
 * an `action`, is refused unless the member's config sets `allow_remote_commands: true`
 * (remote-command-policy.ts). A refused definition gets no runner: it is never run, never
 * pending, passing or failing here, and so never reported as a check state (a failing one
 * would fire check-failing handlers and drop the server from DNS). It is listed in
 * {@link MemberChecks.refusals}, which the agent reports to the leader instead.
 */
import type { Logger } from "pino";
import { CheckRunner } from "./check-runner.ts";
import { type CheckState, INITIAL_CHECK_STATE } from "../../contract/check-state.ts";
import { parseChecks } from "../../config/check-schema.ts";
import { ConfigError } from "../../config/config-error.ts";
import type { CheckConfig } from "../../config/node-config.ts";
import { canonicalJson } from "../../contract/canonical-json.ts";
import { type CheckRefusals, normalRefused } from "../../contract/check-refusals.ts";
import { judgeRemoteCheck } from "./remote-command-policy.ts";

/** Options of {@link MemberChecks}. */
export interface MemberChecksOptions {
  /** The member's own checks and its services' status checks. */
  readonly local: readonly CheckConfig[];
  /** Where check actions, skipped cluster-wide checks and applied versions are logged. */
  readonly logger: Logger;
  /** A check crossed its fall / rise threshold. */
  readonly onChange: (name: string, state: CheckState, detail: string) => void;
  /**
   * `allow_remote_commands` of the member's config: run cluster-wide `command` checks and
   * `action`s. False when absent, as in the config: remote code is opt-in per member.
   */
  readonly allowRemoteCommands?: boolean | undefined;
  /**
   * The state a check starts in when this agent starts it: {@link INITIAL_CHECK_STATE}
   * (`pending`) when absent, as contract/check-state.ts says. Only the fault-injection switch
   * sets another (src/fault-injection/).
   */
  readonly startState?: CheckState | undefined;
}

/** One check that runs here. */
interface Entry {
  readonly runner: CheckRunner;
  /** Canonical JSON of the definition, to restart only changed checks. */
  readonly key: string;
}

/** The checks of one member. */
export class MemberChecks {
  private readonly local = new Map<string, Entry>();
  private readonly cluster = new Map<string, Entry>();
  private clusterVersion = 0;
  /** Cluster-wide definitions of `clusterVersion` refused here, by name, with why. */
  private refused: Readonly<Record<string, string>> = {};
  private started = false;

  /** Set up a runner for each local check; nothing runs until {@link start}. */
  constructor(private readonly o: MemberChecksOptions) {
    for (const c of o.local) this.local.set(c.name, this.entry(c));
  }

  /** The version of the cluster-wide checks in force here (0: none). */
  get version(): number {
    return this.clusterVersion;
  }

  /**
   * The cluster-wide definitions of the version in force here that this member refuses to
   * run (and so runs no runner for), with why: what the agent reports to the leader.
   */
  refusals(): CheckRefusals {
    return { version: this.clusterVersion, refused: this.refused };
  }

  /** Every check's current state (refused cluster-wide definitions have none). */
  states(): Record<string, CheckState> {
    const out: Record<string, CheckState> = {};
    for (const [n, e] of this.cluster) out[n] = e.runner.state;
    for (const [n, e] of this.local) out[n] = e.runner.state;
    return out;
  }

  /** A runner for `check`, starting `pending` unless `initialState` says otherwise. */
  private entry(check: CheckConfig, initialState?: CheckState): Entry {
    const runner = new CheckRunner({
      check,
      initialState: initialState ?? this.o.startState ?? INITIAL_CHECK_STATE,
      onChange: (state, result) => this.o.onChange(check.name, state, result.detail),
      logger: {
        info: (m) => this.o.logger.info({ check: check.name }, m),
        warn: (m) => this.o.logger.warn({ check: check.name }, m),
      },
    });
    return { runner, key: canonicalJson(check) };
  }

  /** Start every runner. */
  start(): void {
    this.started = true;
    for (const e of [...this.local.values(), ...this.cluster.values()]) e.runner.start();
  }

  /** Stop every runner (and any action in progress). */
  async stop(): Promise<void> {
    this.started = false;
    await Promise.all([...this.local.values(), ...this.cluster.values()].map((e) => e.runner.stop()));
  }

  /**
   * Replace the cluster-wide checks with `checksJson` (a JSON array in the form of docs/checks.md) at
   * `version`. Unchanged definitions keep their runner (and state); a changed definition gets a
   * new runner that keeps the old one's state (only an agent restart makes a check pending
   * again: contract/check-state.ts); removed ones stop; new ones start pending. A definition
   * this member refuses (module comment) gets no runner, and one that ran under an earlier,
   * allowed definition stops. A set that does not validate here (it did on the leader) keeps
   * the old set, version and refusals, and is logged.
   */
  setCluster(version: number, checksJson: string): void {
    if (version <= this.clusterVersion) return;
    let defs: CheckConfig[];
    try {
      defs = parseChecks(JSON.parse(checksJson) as unknown, `cluster checks (version ${version})`);
    } catch (e) {
      const msg = e instanceof ConfigError || e instanceof SyntaxError ? e.message : String(e);
      this.o.logger.error({ version }, `cluster-wide checks not applied: ${msg}`);
      return;
    }
    this.clusterVersion = version;
    const wanted = new Map<string, CheckConfig>();
    const refused: Record<string, string> = {};
    for (const d of defs) {
      if (this.local.has(d.name)) {
        this.o.logger.warn(
          { check: d.name },
          "a cluster-wide check has the name of a local check; the local one runs",
        );
        continue;
      }
      const verdict = judgeRemoteCheck(d, this.o.allowRemoteCommands === true);
      if (verdict.kind === "refused") {
        this.o.logger.warn({ check: d.name, version }, `cluster-wide check refused: ${verdict.reason}`);
        refused[d.name] = verdict.reason;
        continue;
      }
      wanted.set(d.name, d);
    }
    this.refused = normalRefused(refused);
    /** The state of each check whose definition changed, kept by its new runner. */
    const carried = new Map<string, CheckState>();
    for (const [name, e] of this.cluster) {
      const d = wanted.get(name);
      if (d === undefined || canonicalJson(d) !== e.key) {
        if (d !== undefined) carried.set(name, e.runner.state);
        void e.runner.stop();
        this.cluster.delete(name);
      }
    }
    for (const [name, d] of wanted) {
      if (this.cluster.has(name)) continue;
      const e = this.entry(d, carried.get(name));
      this.cluster.set(name, e);
      if (this.started) e.runner.start();
    }
    this.o.logger.info({ version, checks: [...this.cluster.keys()] }, "cluster-wide checks applied");
  }
}
