/**
 * `/metrics`: the node's snapshot in the Prometheus text format (prom-client), plus Node's
 * process metrics (`process_resident_memory_bytes`, CPU, event-loop lag). The gauges and
 * counters are set from one {@link NodeSnapshot} per scrape, so every series of a scrape
 * agrees with the others; the latency histograms count what latency.ts reports as it
 * happens. Names and buckets are in metric-names.ts.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { RoleState } from "../member/services/service-manager.ts";
import { attachLatencySink } from "./latency.ts";
import { BUCKETS, METRIC } from "./metric-names.ts";
import { healthOf, type NodeSnapshot } from "./node-view.ts";

const ROLE_STATES: readonly RoleState[] = ["standby", "promoting", "master", "demoting", "failed"];

/** Which roles the node runs: only their series are registered. */
export interface NodeMetricsOptions {
  readonly elector: boolean;
  readonly member: boolean;
}

/** The metrics of one node; {@link text} renders a scrape. */
export class NodeMetrics {
  /** The registry scraped by `/metrics`. */
  readonly registry = new Registry();
  private readonly healthy: Gauge<string>;
  private readonly elector: ReturnType<NodeMetrics["electorSeries"]> | null;
  private readonly member: ReturnType<NodeMetrics["memberSeries"]> | null;
  private readonly detach: () => void;
  private lastScrape: Promise<unknown> = Promise.resolve();

  constructor(o: NodeMetricsOptions) {
    collectDefaultMetrics({ register: this.registry });
    this.healthy = this.gauge(
      METRIC.healthy,
      "1 when /healthz answers 200 (every role of the node can do its job)",
    );
    this.elector = o.elector ? this.electorSeries() : null;
    this.member = o.member ? this.memberSeries() : null;
    const el = o.elector ? this.electorLatency() : null;
    const me = o.member ? this.memberLatency() : null;
    this.detach = attachLatencySink({
      fsync: (s) => el?.fsync.observe(s),
      commit: (s) => el?.commit.observe(s),
      apply: (s) => el?.apply.observe(s),
      handlerRun: (handler, outcome, s) => el?.handlerRun.observe({ handler, outcome }, s),
      reportRtt: (s) => me?.reportRtt.observe(s),
    });
  }

  /** Stop counting latencies (the status port closed). */
  close(): void {
    this.detach();
  }

  private gauge(name: string, help: string, labelNames: string[] = []): Gauge<string> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private counter(name: string, help: string, labelNames: string[] = []): Counter<string> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private histogram(
    name: string,
    help: string,
    buckets: readonly number[],
    labelNames: string[] = [],
  ): Histogram<string> {
    return new Histogram({ name, help, labelNames, buckets: [...buckets], registers: [this.registry] });
  }

  private electorSeries() {
    return {
      term: this.gauge(METRIC.raftTerm, "The Raft term this elector is in"),
      commit: this.gauge(METRIC.raftCommitIndex, "The highest log index this elector knows is committed"),
      applied: this.gauge(METRIC.raftAppliedIndex, "The highest log index this elector has applied"),
      isLeader: this.gauge(METRIC.raftIsLeader, "1 when this elector is the leader"),
      hasLeader: this.gauge(METRIC.raftHasLeader, "1 when this elector knows a leader"),
      match: this.gauge(
        METRIC.electorMatchIndex,
        "Each elector's replicated log index, on the leader only (absent on other electors)",
        ["elector"],
      ),
      reachable: this.gauge(
        METRIC.electorReachable,
        "1 when this node heard from the elector within an election timeout, 0 when the leader has not; absent when unknown",
        ["elector"],
      ),
      members: this.gauge(METRIC.members, "Members by committed status", ["status"]),
      memberCheck: this.gauge(
        METRIC.memberCheckPassing,
        "The committed state of each member's check: 1 passing, 0 failing",
        ["member", "check"],
      ),
      master: this.gauge(METRIC.serviceMaster, "1 for the committed master of each service", [
        "service",
        "member",
      ]),
      events: this.counter(
        METRIC.eventsApplied,
        "Committed events this elector has applied since it started, by type",
        ["type"],
      ),
    };
  }

  /** The elector's histograms: never reset, they accumulate from when the port opened. */
  private electorLatency() {
    return {
      fsync: this.histogram(
        METRIC.storageFsyncDuration,
        "Duration of each fsynced write batch of the Raft log store",
        BUCKETS.fsync,
      ),
      commit: this.histogram(
        METRIC.proposalCommitDuration,
        "From a proposal on this leader to its entry applied here",
        BUCKETS.commit,
      ),
      apply: this.histogram(
        METRIC.applyDuration,
        "Duration of applying one committed entry to the state machine",
        BUCKETS.apply,
      ),
      handlerRun: this.histogram(
        METRIC.handlerRunDuration,
        "Duration of each handler run (attempt) on this leader, by handler and outcome",
        BUCKETS.handlerRun,
        ["handler", "outcome"],
      ),
    };
  }

  private memberSeries() {
    return {
      connected: this.gauge(
        METRIC.memberConnected,
        "1 when this member has an acknowledged stream to an elector",
      ),
      acks: this.counter(
        METRIC.memberReportsAcknowledged,
        "Reports of this member acknowledged by the leader since it started",
      ),
      check: this.gauge(METRIC.checkPassing, "This member's checks: 1 passing, 0 failing", ["check"]),
      role: this.gauge(METRIC.serviceRole, "This member's role in each service: 1 for the current state", [
        "service",
        "state",
      ]),
      roleEpoch: this.gauge(
        METRIC.serviceRoleEpoch,
        "The highest master epoch this member has seen, per service",
        ["service"],
      ),
    };
  }

  private memberLatency() {
    return {
      reportRtt: this.histogram(
        METRIC.memberReportRtt,
        "From sending a report (registration or heartbeat) to the elector's acknowledgement",
        BUCKETS.reportRtt,
      ),
    };
  }

  /** Set every series from `s`. */
  update(s: NodeSnapshot): void {
    this.healthy.set(healthOf(s).ok ? 1 : 0);
    const el = s.elector;
    const e = this.elector;
    if (el && e) {
      for (const m of Object.values(e)) m.reset();
      const st = el.status;
      e.term.set(st.term);
      e.commit.set(st.commit);
      e.applied.set(st.applied);
      e.isLeader.set(st.leader !== null && st.leader === st.answeredBy ? 1 : 0);
      e.hasLeader.set(st.leader === null ? 0 : 1);
      // What this node does not know has no series: an alert on 0 must mean "known not".
      for (const x of st.electors) {
        if (x.match !== null) e.match.set({ elector: x.name }, x.match);
        if (x.reachable !== null) e.reachable.set({ elector: x.name }, x.reachable ? 1 : 0);
      }
      for (const [status, n] of Object.entries(st.members)) e.members.set({ status }, n);
      for (const m of el.members) {
        for (const [check, state] of Object.entries(m.checks))
          e.memberCheck.set({ member: m.name, check }, state === "passing" ? 1 : 0);
        for (const [service, v] of Object.entries(m.services))
          if (v.master) e.master.set({ service, member: m.name }, 1);
      }
      for (const [type, n] of Object.entries(el.eventCounts)) e.events.inc({ type }, n);
    }
    const me = s.member;
    const m = this.member;
    if (me && m) {
      for (const x of Object.values(m)) x.reset();
      m.connected.set(me.connectedTo === null ? 0 : 1);
      m.acks.inc(me.heartbeatsAcked);
      for (const [check, state] of Object.entries(me.checks))
        m.check.set({ check }, state === "passing" ? 1 : 0);
      for (const r of me.services) {
        for (const state of ROLE_STATES) m.role.set({ service: r.service, state }, r.state === state ? 1 : 0);
        m.roleEpoch.set({ service: r.service }, r.epoch);
      }
    }
  }

  /**
   * The Prometheus text of a scrape of `s`. Scrapes run one after another, so two at once
   * cannot interleave their snapshots' values.
   */
  text(s: NodeSnapshot): Promise<string> {
    const run = this.lastScrape.then(() => {
      this.update(s);
      return this.registry.metrics();
    });
    this.lastScrape = run.catch(() => undefined);
    return run;
  }
}
