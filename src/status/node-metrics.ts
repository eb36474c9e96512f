/**
 * `/metrics`: the node's snapshot in the Prometheus text format (prom-client), plus Node's
 * process metrics (`process_resident_memory_bytes`, CPU, event-loop lag). The values are set
 * from one {@link NodeSnapshot} per scrape, so every series of a scrape agrees with the others.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import type { RoleState } from "../member/services/service-manager.ts";
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
  private lastScrape: Promise<unknown> = Promise.resolve();

  constructor(o: NodeMetricsOptions) {
    collectDefaultMetrics({ register: this.registry });
    this.healthy = this.gauge(
      "conclave_healthy",
      "1 when /healthz answers 200 (every role of the node can do its job)",
    );
    this.elector = o.elector ? this.electorSeries() : null;
    this.member = o.member ? this.memberSeries() : null;
  }

  private gauge(name: string, help: string, labelNames: string[] = []): Gauge<string> {
    return new Gauge({ name, help, labelNames, registers: [this.registry] });
  }

  private counter(name: string, help: string, labelNames: string[] = []): Counter<string> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  private electorSeries() {
    return {
      term: this.gauge("conclave_raft_term", "The Raft term this elector is in"),
      commit: this.gauge(
        "conclave_raft_commit_index",
        "The highest log index this elector knows is committed",
      ),
      applied: this.gauge("conclave_raft_applied_index", "The highest log index this elector has applied"),
      isLeader: this.gauge("conclave_raft_is_leader", "1 when this elector is the leader"),
      hasLeader: this.gauge("conclave_raft_has_leader", "1 when this elector knows a leader"),
      match: this.gauge(
        "conclave_elector_match_index",
        "Each elector's replicated log index (the leader's view; elsewhere this node's own)",
        ["elector"],
      ),
      reachable: this.gauge(
        "conclave_elector_reachable",
        "1 when the elector is reachable in this node's view",
        ["elector"],
      ),
      members: this.gauge("conclave_members", "Members by committed status", ["status"]),
      memberCheck: this.gauge(
        "conclave_member_check_passing",
        "The committed state of each member's check: 1 passing, 0 failing",
        ["member", "check"],
      ),
      master: this.gauge("conclave_service_master", "1 for the committed master of each service", [
        "service",
        "member",
      ]),
      events: this.counter(
        "conclave_events_applied_total",
        "Committed events this elector has applied since it started, by type",
        ["type"],
      ),
    };
  }

  private memberSeries() {
    return {
      connected: this.gauge(
        "conclave_member_connected",
        "1 when this member has an acknowledged stream to an elector",
      ),
      acks: this.counter(
        "conclave_member_reports_acknowledged_total",
        "Reports of this member acknowledged by the leader since it started",
      ),
      check: this.gauge("conclave_check_passing", "This member's checks: 1 passing, 0 failing", ["check"]),
      role: this.gauge(
        "conclave_service_role",
        "This member's role in each service: 1 for the current state",
        ["service", "state"],
      ),
      roleEpoch: this.gauge(
        "conclave_service_role_epoch",
        "The highest master epoch this member has seen, per service",
        ["service"],
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
      e.isLeader.set(st.leader !== "" && st.leader === st.answeredBy ? 1 : 0);
      e.hasLeader.set(st.leader === "" ? 0 : 1);
      for (const x of st.electors) {
        e.match.set({ elector: x.name }, x.match);
        e.reachable.set({ elector: x.name }, x.reachable ? 1 : 0);
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
