/**
 * The member's runit-style services (docs/services-and-masters.md): starts them in priority order at
 * agent start and stops them in reverse at shutdown, runs `status` as a check (with `failed`
 * as its action), and plays the master role the leader grants: `promote` / `demote` with
 * `CONCLAVE_EPOCH`, demotes before promotes, demotes in reverse priority order and promotes in
 * priority order.
 *
 * Invariants (the member half of "never two masters"; master-lease.ts has the numbers):
 * - a service is promoted only on a grant whose lease is still running, and never for an epoch
 *   lower than one already seen for it;
 * - when the lease reaches its self-demote point without renewal, every master and promoting
 *   service is demoted, a running `promote` is killed first, and each `demote` is killed at the
 *   end of the lease at the latest;
 * - role changes run one at a time, in one queue, so scripts of one member never overlap;
 * - the {@link LeaseGuard} (a separate watchdog process) is renewed with the same deadline
 *   (plus a small slack), so a paused or killed agent is still demoted in time.
 */
import type { Logger } from "pino";
import type { CheckConfig } from "../../config/node-config.ts";
import { type ProcessRun, runProcessGroup } from "../../process/process-run.ts";
import type { ProcessSpawner } from "../../process/process-spawner.ts";
import { describeOutcome, succeeded } from "../../process/run-outcome.ts";
import type { LeaseGuard, WatchdogDemotion } from "../../process/lease-watchdog.ts";
import { demoteBudgetMs, selfDemoteAfterMs, watchdogSlackMs } from "../../contract/master-lease.ts";
import type { ServiceDefinition, ServiceScript } from "./services-dir.ts";
import { serviceCheckName } from "../../contract/check-state.ts";

/** Where a service stands on this member. */
export type RoleState = "standby" | "promoting" | "master" | "demoting" | "failed";

/** One service's role as reported to the leader. */
export interface ServiceRole {
  readonly service: string;
  readonly state: RoleState;
  /** The highest master epoch seen for this service on this member. */
  readonly epoch: number;
}

/** What one acknowledgement from the leader grants. */
export interface MasterGrants {
  /** Services this member is master of, with their epochs. */
  readonly masters: ReadonlyMap<string, number>;
  /** Monotonic time at which this member sent the report the acknowledgement answers. */
  readonly sentAt: number;
  readonly leaseMs: number;
}

/** Options of {@link ServiceManager}. */
export interface ServiceManagerOptions {
  readonly services: readonly ServiceDefinition[];
  readonly logger: Logger;
  /** The watchdog; none in tests that do not need one. */
  readonly guard?: LeaseGuard | undefined;
  /** Timeout of `start`, `stop` and `promote`. */
  readonly scriptTimeoutMs?: number | undefined;
  /** Interval of the `status` check. */
  readonly statusIntervalMs?: number | undefined;
  readonly spawner?: ProcessSpawner | undefined;
  /** Monotonic milliseconds; `performance.now()` when absent. */
  readonly now?: (() => number) | undefined;
  /** Called after each role change (so the agent can report it at once). */
  readonly onRoleChange?: (() => void) | undefined;
}

/** Default timeout of `start`, `stop` and `promote`. */
export const SERVICE_SCRIPT_TIMEOUT_MS = 30_000;

interface Slot {
  readonly def: ServiceDefinition;
  state: RoleState;
  epoch: number;
  /**
   * The highest epoch this member has demoted from. A grant must carry a newer epoch to
   * promote again: an acknowledgement still in flight when the demotion happened can never
   * bring an old mastership back.
   */
  demoted: number;
}

/** The services of one member. */
export class ServiceManager {
  private readonly slots: Slot[];
  private readonly now: () => number;
  /** Services granted by the latest fresh acknowledgement. */
  private desired = new Map<string, number>();
  private leaseMs = 0;
  /** Monotonic time the self-demote point is reached (−∞: no lease). */
  private selfDemoteAt = Number.NEGATIVE_INFINITY;
  private leaseEndAt = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<void> = Promise.resolve();
  private reconciling = false;
  private again = false;
  private current: { run: ProcessRun; script: ServiceScript; service: string } | null = null;
  /** Set when stopping begins: grants are ignored from then on. */
  private stopping = false;

  constructor(private readonly o: ServiceManagerOptions) {
    this.slots = o.services.map((def) => ({ def, state: "standby", epoch: 0, demoted: 0 }));
    this.now = o.now ?? (() => performance.now());
  }

  /** The services, in priority order. */
  get definitions(): readonly ServiceDefinition[] {
    return this.o.services;
  }

  /** Each service's role, in priority order. */
  roles(): ServiceRole[] {
    return this.slots.map((s) => ({ service: s.def.name, state: s.state, epoch: s.epoch }));
  }

  /**
   * `status` scripts as checks named `service:NAME`, with `failed` as the action. Like every
   * check each starts `pending` (check-runner.ts), so the leader promotes no member here until
   * its status has passed `rise` times since this agent started.
   */
  statusChecks(): CheckConfig[] {
    const out: CheckConfig[] = [];
    for (const { def } of this.slots) {
      const status = def.scripts.status;
      if (!status) continue;
      const failed = def.scripts.failed;
      out.push({
        name: serviceCheckName(def.name),
        type: "command",
        run: { kind: "argv", argv: [status] },
        intervalMs: this.o.statusIntervalMs ?? 2000,
        timeoutMs: 5000,
        fall: 2,
        rise: 2,
        action: failed ? { kind: "argv", argv: [failed] } : null,
      });
    }
    return out;
  }

  /** Run every `start` script, in priority order. A failure is logged; the rest still start. */
  async startAll(): Promise<void> {
    for (const s of this.slots) await this.script(s, "start", {}, this.scriptTimeout);
  }

  /**
   * Stop: demote every master (reverse priority), tell the watchdog, then run every `stop`
   * script in reverse priority order.
   */
  async stopAll(): Promise<void> {
    this.stopping = true;
    this.desired = new Map();
    this.selfDemoteAt = Number.NEGATIVE_INFINITY;
    clearTimeout(this.timer);
    await this.reconcile("agent stopping");
    await this.queue;
    await this.o.guard?.stop();
    for (const s of [...this.slots].reverse()) await this.script(s, "stop", {}, this.scriptTimeout);
  }

  private get scriptTimeout(): number {
    return this.o.scriptTimeoutMs ?? SERVICE_SCRIPT_TIMEOUT_MS;
  }

  /**
   * Apply one acknowledgement. A grant that arrives after its own self-demote point (a late
   * acknowledgement) renews nothing and grants nothing.
   */
  grant(g: MasterGrants): void {
    if (this.stopping) return;
    const selfDemoteAt = g.sentAt + selfDemoteAfterMs(g.leaseMs);
    if (selfDemoteAt <= this.now()) return;
    if (selfDemoteAt > this.selfDemoteAt) {
      this.selfDemoteAt = selfDemoteAt;
      this.leaseEndAt = g.sentAt + g.leaseMs;
      this.leaseMs = g.leaseMs;
    }
    const desired = new Map<string, number>();
    for (const [service, epoch] of g.masters) {
      const slot = this.slots.find((s) => s.def.name === service);
      // Not ours, older than what we have seen, or one we have already demoted from.
      if (!slot || epoch < slot.epoch || epoch <= slot.demoted) continue;
      desired.set(service, epoch);
    }
    this.desired = desired;
    this.armLease();
    void this.reconcile("grant");
  }

  /** The watchdog ran a demote (the agent was paused or slow): the service is down. */
  watchdogDemoted(d: WatchdogDemotion): void {
    const slot = this.slots.find((s) => s.def.name === d.service);
    if (slot && (slot.state === "master" || slot.state === "promoting") && d.epoch >= slot.epoch) {
      this.o.logger.warn(
        { service: d.service, epoch: d.epoch, exitCode: d.exitCode },
        "the lease watchdog demoted",
      );
      slot.state = "standby";
      slot.demoted = Math.max(slot.demoted, d.epoch);
      this.o.onRoleChange?.();
    }
  }

  /**
   * The service's `status` check passes again: a service marked failed after a failed
   * `promote` may be chosen as master again.
   */
  statusPassing(service: string): void {
    const slot = this.slots.find((s) => s.def.name === service);
    if (slot?.state === "failed") {
      slot.state = "standby";
      this.o.onRoleChange?.();
    }
  }

  private leaseValid(): boolean {
    return this.now() < this.selfDemoteAt;
  }

  /** Arm the self-demote timer and renew the watchdog with the same deadline. */
  private armLease(): void {
    clearTimeout(this.timer);
    const left = this.selfDemoteAt - this.now();
    this.timer = setTimeout(() => this.expire(), Math.max(0, left));
    const masters = this.demoteOrder()
      .filter((s) => s.state === "master" || s.state === "promoting" || this.desired.has(s.def.name))
      .map((s) => ({ service: s.def.name, epoch: Math.max(s.epoch, this.desired.get(s.def.name) ?? 0) }));
    const slack = watchdogSlackMs(this.leaseMs);
    this.o.guard?.renew(left + slack, demoteBudgetMs(this.leaseMs) - slack, masters);
  }

  /** The lease ran out without renewal: drop every grant and demote. */
  private expire(): void {
    if (this.leaseValid()) return this.armLease();
    if (this.desired.size === 0 && !this.slots.some((s) => s.state === "master" || s.state === "promoting")) {
      return;
    }
    this.o.logger.warn(
      { leaseMs: this.leaseMs },
      "master lease expired without word from the leader: demoting",
    );
    this.desired = new Map();
    if (this.current?.script === "promote") this.current.run.kill("master lease expired", { graceMs: 0 });
    void this.reconcile("lease expired");
  }

  private demoteOrder(): Slot[] {
    return [...this.slots].reverse();
  }

  /** Bring roles in line with {@link desired}, one script at a time. */
  private reconcile(why: string): Promise<void> {
    if (this.reconciling) {
      this.again = true;
      return this.queue;
    }
    this.reconciling = true;
    this.queue = (async () => {
      try {
        do {
          this.again = false;
          await this.reconcileOnce(why);
        } while (this.again);
      } finally {
        this.reconciling = false;
      }
    })();
    return this.queue;
  }

  private async reconcileOnce(why: string): Promise<void> {
    const fresh = this.leaseValid();
    // Demotes first, in reverse priority order.
    for (const s of this.demoteOrder()) {
      const want = fresh ? this.desired.get(s.def.name) : undefined;
      if (s.state === "master" && want !== undefined && want > s.epoch) {
        s.epoch = want; // promoted again at a newer epoch while master: nothing to run
        continue;
      }
      if ((s.state === "master" || s.state === "promoting") && want === undefined) {
        s.state = "demoting";
        this.o.onRoleChange?.();
        // Never past the end of the lease while it runs; a whole budget on a clean stop, or
        // when the lease is already over (the watchdog has acted by then).
        const budget = demoteBudgetMs(this.leaseMs || 3000);
        const untilLeaseEnd = this.leaseEndAt - this.now();
        const timeout = untilLeaseEnd > 0 ? Math.max(1, Math.min(budget, untilLeaseEnd)) : budget;
        await this.script(s, "demote", { CONCLAVE_EPOCH: String(s.epoch), CONCLAVE_REASON: why }, timeout);
        s.demoted = s.epoch;
        s.state = "standby";
        this.o.onRoleChange?.();
      }
    }
    if (!this.leaseValid()) {
      this.o.guard?.idle();
      return;
    }
    // Then promotes, in priority order, each only while the lease still runs.
    for (const s of this.slots) {
      const want = this.desired.get(s.def.name);
      // `want > s.demoted`: a grant read before a demotion of this pass is not a new grant.
      if (want === undefined || want <= s.demoted || s.state !== "standby" || !this.leaseValid()) continue;
      s.state = "promoting";
      s.epoch = want;
      this.o.onRoleChange?.();
      const ok = await this.script(s, "promote", { CONCLAVE_EPOCH: String(want) }, this.scriptTimeout);
      if (ok) {
        s.state = "master";
      } else if (!this.leaseValid()) {
        // Killed because the lease ran out (expire()): a demotion, not a failure of the
        // service, so no `failed` and no "failed" state (which would keep it from being
        // chosen again until its status check changes).
        const untilLeaseEnd = this.leaseEndAt - this.now();
        const budget = demoteBudgetMs(this.leaseMs);
        await this.script(
          s,
          "demote",
          { CONCLAVE_EPOCH: String(want), CONCLAVE_REASON: "lease expired" },
          untilLeaseEnd > 0 ? Math.max(1, Math.min(budget, untilLeaseEnd)) : budget,
        );
        s.demoted = want;
        s.state = "standby";
      } else {
        // A promote that failed leaves the service in an unknown state: clean up with demote,
        // run `failed`, and report it failed so the leader picks another member.
        await this.script(
          s,
          "demote",
          { CONCLAVE_EPOCH: String(want), CONCLAVE_REASON: "promote failed" },
          demoteBudgetMs(this.leaseMs),
        );
        await this.script(s, "failed", { CONCLAVE_EPOCH: String(want) }, this.scriptTimeout);
        s.demoted = want;
        s.state = "failed";
      }
      this.o.onRoleChange?.();
    }
    if (!this.slots.some((s) => s.state === "master" || s.state === "promoting")) this.o.guard?.idle();
  }

  /** Run one script if the service has it; resolves true when it is absent or succeeded. */
  private async script(
    s: Slot,
    script: ServiceScript,
    env: Record<string, string>,
    timeoutMs: number,
  ): Promise<boolean> {
    const path = s.def.scripts[script];
    if (!path) return true;
    const started = this.now();
    let run: ProcessRun;
    try {
      run = runProcessGroup({
        run: { kind: "argv", argv: [path] },
        env: { CONCLAVE_SERVICE: s.def.name, ...env },
        stdin: "",
        timeoutMs,
        cwd: s.def.dir,
        killGraceMs: Math.min(1000, Math.max(0, Math.floor(timeoutMs / 4))),
        ...(this.o.spawner ? { spawner: this.o.spawner } : {}),
      });
    } catch (e) {
      this.o.logger.error({ service: s.def.name, script, err: e }, "service script could not start");
      return false;
    }
    this.current = { run, script, service: s.def.name };
    const outcome = await run.done;
    this.current = null;
    const ok = succeeded(outcome);
    const output = outcome.kind === "spawn-failed" ? "" : outcome.output.text.trim();
    const fields = {
      service: s.def.name,
      script,
      outcome: describeOutcome(outcome),
      ms: Math.round(this.now() - started),
      ...(output ? { output } : {}),
    };
    if (ok) this.o.logger.info(fields, "service script done");
    else this.o.logger.error(fields, "service script failed");
    return ok;
  }
}
