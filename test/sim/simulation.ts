/**
 * One seeded simulation run: N Raft nodes in one process, a faulty network, crashes and
 * restarts, random proposals, membership changes, snapshots, transfers and reads, with the
 * {@link Oracle} checking safety after every step. After the fault phase, faults stop and
 * the run must elect a leader and commit a new proposal within a bounded number of ticks.
 *
 * Everything random comes from one SeededRng, so a seed replays exactly.
 */
import {
  ConfChangeRefusedError,
  LeaderTransferringError,
  type NodeId,
  NotLeaderError,
  RaftUsageError,
  SeededRng,
} from "../../raft/index.ts";
import { SimNetwork } from "./network.ts";
import { InvariantViolation, Oracle } from "./oracle.ts";
import { SimNode } from "./sim-node.ts";

/** Parameters of one run. */
export interface SimOptions {
  seed: number;
  /** Initial voters. */
  nodes: number;
  /** Ticks of the fault phase. */
  steps: number;
  /** Ticks allowed, once faults stop, to elect a leader and commit a proposal. */
  livenessTicks?: number;
  /** Events kept for the report. */
  historySize?: number;
  /** Record every delivered message in the history (for replaying one seed). */
  trace?: boolean;
  /** Called with each event as it happens (the demo narrates a run with it). */
  onEvent?: (event: string) => void;
}

/** The outcome of one run: ok, or the first broken invariant with the events before it. */
export type SimResult =
  | {
      ok: true;
      seed: number;
      ticks: number;
      stats: Oracle["stats"];
      delivered: Record<string, number>;
      recoveryTicks: number;
    }
  | { ok: false; seed: number; invariant: string; message: string; history: string[]; tick: number };

const encoder = new TextEncoder();

/**
 * Per-tick probabilities of each fault and client action. Each seed draws its own profile
 * ("swarm testing"): some seeds crash leaders often, some partition, some are nearly calm,
 * which reaches far more distinct schedules than one fixed mix.
 */
export interface FaultProfile {
  crash: number;
  crashLeader: number;
  crashMidReady: number;
  restart: number;
  partition: number;
  isolateLeader: number;
  cutLink: number;
  heal: number;
  drop: number;
  duplicate: number;
  longDelay: number;
  propose: number;
  membership: number;
  transfer: number;
  snapshot: number;
  read: number;
}

function drawProfile(r: SeededRng): FaultProfile {
  const pick = (xs: number[]) => r.pick(xs);
  return {
    crash: pick([0, 0.005, 0.01, 0.03]),
    crashLeader: pick([0, 0.005, 0.02, 0.05]),
    crashMidReady: pick([0, 0.0005, 0.002]),
    restart: pick([0.02, 0.05, 0.2]),
    partition: pick([0, 0.005, 0.01, 0.03]),
    isolateLeader: pick([0, 0.005, 0.02]),
    cutLink: pick([0, 0.005, 0.02]),
    heal: pick([0.01, 0.03, 0.1]),
    drop: pick([0, 0.02, 0.1, 0.3]),
    duplicate: pick([0, 0.03, 0.1]),
    longDelay: pick([0, 0.05, 0.2]),
    propose: pick([0.1, 0.3, 0.9]),
    membership: pick([0, 0.01, 0.03]),
    transfer: pick([0, 0.005, 0.02]),
    snapshot: pick([0, 0.01, 0.05]),
    read: pick([0, 0.02, 0.1]),
  };
}

/** Run one seed. Never throws: failures, including unexpected exceptions, become a result. */
export function runSimulation(options: SimOptions): SimResult {
  const sim = new Simulation(options);
  try {
    return sim.run();
  } catch (e) {
    const invariant = e instanceof InvariantViolation ? e.invariant : "crash";
    const message = e instanceof Error ? (e.stack ?? e.message) : String(e);
    return { ok: false, seed: options.seed, invariant, message, history: sim.history(), tick: sim.now };
  }
}

class Simulation {
  readonly rng: SeededRng;
  readonly net: SimNetwork;
  readonly oracle = new Oracle();
  readonly nodes = new Map<NodeId, SimNode>();
  now = 0;
  private readonly events: string[] = [];
  private proposals = 0;
  private nextNodeId: number;
  private readSeq = 0;
  private readonly p: FaultProfile;

  constructor(private readonly o: SimOptions) {
    this.rng = new SeededRng(o.seed);
    this.net = new SimNetwork(this.rng);
    this.p = drawProfile(this.rng);
    const ids = Array.from({ length: o.nodes }, (_, i) => `n${i + 1}`);
    this.nextNodeId = o.nodes + 1;
    for (const id of ids) {
      const n = new SimNode(id, { voters: ids, learners: [] }, o.seed * 31 + this.nodes.size);
      n.start();
      this.nodes.set(id, n);
    }
  }

  /** The recent events, then one line per node with its current state. */
  history(): string[] {
    const states = [...this.nodes.values()].map((n) => {
      const s = n.raw?.status();
      if (!s)
        return `  ${n.id}: down (persisted term ${n.disk.hardState().term}, commit ${n.disk.hardState().commit})`;
      return `  ${n.id}: ${s.role} term ${s.term} commit ${s.commit} last ${s.lastIndex} voters [${s.conf.voters}] learners [${s.conf.learners}]`;
    });
    return [...this.events, "node states:", ...states];
  }

  private log(event: string): void {
    this.events.push(`t=${this.now} ${event}`);
    this.o.onEvent?.(`t=${this.now} ${event}`);
    const max = this.o.historySize ?? 40;
    if (this.events.length > max) this.events.splice(0, this.events.length - max);
  }

  run(): SimResult {
    this.net.faults = { drop: this.p.drop, duplicate: this.p.duplicate, longDelay: this.p.longDelay };
    this.inFaultPhase = true;
    for (let t = 0; t < this.o.steps; t++) {
      this.faultStep();
      this.tickAll(0.95);
    }
    // Faults stop: heal, restart everyone, perfect network. A leader must be elected and a
    // new proposal must commit within the bound.
    this.net.faults = { drop: 0, duplicate: 0, longDelay: 0 };
    this.inFaultPhase = false;
    this.net.heal();
    for (const n of this.nodes.values()) if (!n.alive) this.restart(n);
    this.log("faults stop");
    const start = this.now;
    const bound = this.o.livenessTicks ?? 300;
    // The proposal is made again whenever leadership changes: an uncommitted entry of an
    // old leader may be overwritten, exactly as a client would retry.
    let proposedIn = "";
    while (this.now - start < bound) {
      this.tickAll(1);
      const leader = this.leader();
      if (leader) {
        const where = `${leader.id}@${leader.raw!.status().term}`;
        if (where !== proposedIn) {
          try {
            leader.raw!.propose(encoder.encode(`final-${where}`));
            proposedIn = where;
            this.log(`${leader.id} proposes final-${where}`);
            this.drain(leader);
          } catch (e) {
            if (!(e instanceof NotLeaderError || e instanceof LeaderTransferringError)) throw e;
          }
        }
      }
      if (this.appliedFinal.size > 0) {
        return {
          ok: true,
          seed: this.o.seed,
          ticks: this.now,
          stats: this.oracle.stats,
          delivered: this.delivered,
          recoveryTicks: this.now - start,
        };
      }
    }
    throw new InvariantViolation(
      "liveness",
      `no leader committed a new proposal within ${bound} ticks after faults stopped (leader: ${this.leader()?.id ?? "none"})`,
    );
  }

  private readonly appliedFinal = new Set<string>();
  /** Messages delivered, by type: shows what a campaign exercised. */
  private readonly delivered: Record<string, number> = {};

  /** The live node that believes it leads in the highest term, if any. */
  private leader(): SimNode | undefined {
    let best: SimNode | undefined;
    let bestTerm = -1;
    for (const n of this.nodes.values()) {
      const s = n.raw?.status();
      if (s && s.role === "leader" && s.term > bestTerm) {
        best = n;
        bestTerm = s.term;
      }
    }
    return best;
  }

  private live(): SimNode[] {
    return [...this.nodes.values()].filter((n) => n.alive);
  }

  /** One tick: every live node ticks (each may miss it: clock skew), then due messages are delivered. */
  private tickAll(tickChance: number): void {
    this.now++;
    for (const n of this.nodes.values()) {
      if (n.raw && this.rng.chance(tickChance)) {
        n.raw.tick();
        this.drain(n);
      }
    }
    for (let m = this.net.takeDue(this.now); m; m = this.net.takeDue(this.now)) {
      const to = this.nodes.get(m.to);
      if (!to?.raw) {
        this.reportLost(m.from, m.to, m.type === "snap");
        continue;
      }
      if (this.net.isCut(m.from, m.to)) {
        this.reportLost(m.from, m.to, m.type === "snap");
        continue;
      }
      this.delivered[m.type] = (this.delivered[m.type] ?? 0) + 1;
      if (this.o.trace)
        this.log(
          `deliver ${m.type} ${m.from}->${m.to} t${m.term} i${m.index} lt${m.logTerm} c${m.commit} n${m.entries.length}${m.reject ? " reject" : ""}`,
        );
      to.raw.step(m);
      this.drain(to);
    }
  }

  /** The sender's transport notices a failed delivery (as a gRPC stream would). */
  private reportLost(from: NodeId, to: NodeId, snapshot: boolean): void {
    const sender = this.nodes.get(from)?.raw;
    if (!sender || !this.rng.chance(0.5)) return;
    if (snapshot) sender.reportSnapshot(to, false);
    else sender.reportUnreachable(to);
    this.drain(this.nodes.get(from)!);
  }

  /** Process every Ready the node has, checking invariants after each. */
  private drain(n: SimNode): void {
    for (;;) {
      const crash = this.inFaultPhase && this.rng.chance(this.p.crashMidReady);
      const out = n.processReady(this.oracle, crash);
      if (crash && !n.alive) {
        this.log(`${n.id} crashed after persisting, before sending`);
        return;
      }
      if (!out) return;
      if (out.became?.startsWith("leader")) this.log(`${n.id} becomes ${out.became}`);
      for (const m of out.messages) this.net.send(m, this.now);
      for (const d of out.appliedData) if (d.startsWith("final-")) this.appliedFinal.add(d);
      for (const r of out.readStates) this.oracle.readAnswered(n.id, r.context, r.index);
    }
  }

  private inFaultPhase = false;

  private restart(n: SimNode): void {
    n.start();
    this.log(`${n.id} restarts (term ${n.raw!.status().term}, commit ${n.raw!.status().commit})`);
    this.drain(n);
  }

  /** Random faults and client actions for one tick of the fault phase. */
  private faultStep(): void {
    const r = this.rng;
    const all = [...this.nodes.values()];
    const live = this.live();
    const p = this.p;
    if (live.length > 0 && r.chance(p.crash)) {
      const n = r.pick(live);
      n.crash();
      this.log(`${n.id} crashes`);
    }
    const current = this.leader();
    if (current && r.chance(p.crashLeader)) {
      current.crash();
      this.log(`leader ${current.id} crashes`);
    }
    for (const n of all) if (!n.alive && r.chance(p.restart)) this.restart(n);
    const lead = this.leader();
    if (lead && r.chance(p.isolateLeader)) {
      const others = all.filter((n) => n !== lead).map((n) => n.id);
      this.net.partition([lead.id], others);
      this.log(`leader ${lead.id} isolated`);
    }
    if (r.chance(p.partition)) {
      const ids = all.map((n) => n.id);
      const cut = 1 + r.int(Math.max(1, ids.length - 1));
      const shuffled = ids
        .map((id) => ({ id, k: r.next() }))
        .sort((a, b) => a.k - b.k)
        .map((x) => x.id);
      const a = shuffled.slice(0, cut);
      const b = shuffled.slice(cut);
      this.net.partition(a, b);
      this.log(`partition [${a}] | [${b}]`);
    }
    if (r.chance(p.cutLink) && all.length > 1) {
      const from = r.pick(all).id;
      const to = r.pick(all.filter((n) => n.id !== from)).id;
      this.net.cutLink(from, to);
      this.log(`cut ${from} -> ${to}`);
    }
    if (this.net.cutCount() > 0 && r.chance(p.heal)) {
      this.net.heal();
      this.log("heal");
    }
    // The leader is looked up afresh before each action: the previous one may have crashed it.
    let leader = this.leader();
    if (r.chance(p.propose)) this.propose(leader && r.chance(0.9) ? leader : r.pick(all));
    leader = this.leader();
    if (leader && r.chance(p.membership)) this.changeMembership(leader);
    leader = this.leader();
    if (leader && r.chance(p.transfer)) {
      const voters = leader.raw!.status().conf.voters.filter((v) => v !== leader.id);
      if (voters.length > 0) {
        const to = r.pick(voters);
        try {
          leader.raw!.transferLeader(to);
          this.log(`${leader.id} transfers leadership to ${to}`);
          this.drain(leader);
        } catch (e) {
          if (!(e instanceof NotLeaderError || e instanceof RaftUsageError)) throw e;
        }
      }
    }
    if (this.live().length > 0 && r.chance(p.snapshot)) {
      const n = r.pick(this.live());
      if (n.compact()) this.log(`${n.id} snapshots at ${n.applied} and compacts`);
    }
    if (this.live().length > 0 && r.chance(p.read)) {
      const n = r.pick(this.live());
      const ctx = `read-${this.readSeq++}`;
      this.oracle.readAsked(ctx);
      try {
        n.raw!.readIndex(ctx);
        this.drain(n);
      } catch (e) {
        if (!(e instanceof NotLeaderError)) throw e;
      }
    }
  }

  private propose(n: SimNode): void {
    if (!n.raw) return;
    const data = `p${this.proposals++}`;
    try {
      const { index } = n.raw.propose(encoder.encode(data));
      this.log(`${n.id} proposes ${data} at ${index}`);
      this.drain(n);
    } catch (e) {
      if (!(e instanceof NotLeaderError || e instanceof LeaderTransferringError)) throw e;
    }
  }

  /** Add a learner (a brand-new node), promote one, or remove a voter or learner. */
  private changeMembership(leader: SimNode): void {
    const r = this.rng;
    const conf = leader.raw!.status().conf;
    const choices: (() => void)[] = [];
    const maxVoters = this.o.nodes + 2;
    if (conf.voters.length + conf.learners.length < maxVoters + 1) {
      choices.push(() => {
        const id = `n${this.nextNodeId}`;
        leader.raw!.proposeConfChange({ type: "add-learner", node: id });
        this.nextNodeId++;
        const n = new SimNode(id, undefined, this.o.seed * 31 + this.nextNodeId);
        n.start();
        this.nodes.set(id, n);
        this.log(`${leader.id} adds learner ${id}`);
      });
    }
    if (conf.learners.length > 0 && conf.voters.length < maxVoters) {
      choices.push(() => {
        const id = r.pick(conf.learners);
        leader.raw!.proposeConfChange({ type: "promote", node: id });
        this.log(`${leader.id} promotes ${id}`);
      });
    }
    if (conf.voters.length > 2) {
      choices.push(() => {
        const id = r.pick([...conf.voters, ...conf.learners]);
        leader.raw!.proposeConfChange({ type: "remove", node: id });
        this.log(`${leader.id} removes ${id}`);
      });
    }
    if (choices.length === 0) return;
    try {
      r.pick(choices)();
      this.drain(leader);
    } catch (e) {
      if (!(
        e instanceof ConfChangeRefusedError ||
        e instanceof NotLeaderError ||
        e instanceof LeaderTransferringError
      )) {
        throw e;
      }
    }
  }
}
