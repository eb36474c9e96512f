/**
 * The elector's driver loop: it owns a RawNode and runs the Ready cycle in the order etcd
 * documents. For each Ready:
 *   1. persist snapshot, entries and hard state in ONE atomic, fsynced batch (a Ready that
 *      only moves the commit index is written without fsync and not waited for);
 *   2. only then send its messages;
 *   3. restore the snapshot (if any) and apply the committed entries;
 *   4. advance().
 * Proposals and messages that arrive while a write is in flight are stepped into the node
 * at once and go out with the next Ready (group commit): one fsync covers them all.
 */
import type { Logger } from "pino";
import {
  type ConfChange,
  decodeConfChange,
  encodeConfChange,
  type Entry,
  type Message,
  type NodeId,
  NotLeaderError,
  type RaftStatus,
  RawNode,
  type Rng,
} from "../../raft/index.ts";
import { type Command, encodeCommand, validateCommand } from "../coordinator/commands.ts";
import { LimitExceededError } from "../coordinator/command-limits.ts";
import { confChangeEntryProblem } from "../coordinator/conf-change-rules.ts";
import { formatBytes, PROPOSAL_MAX_BYTES } from "../contract/limits.ts";
import type { LogStore } from "../storage/log-store.ts";
import type { PeerTransport, PeerTransportEvents } from "../transport/peer-transport.ts";
import type { ApplyOutcome, CoordinatorState } from "../coordinator/state-machine.ts";
import { NodeStoppedError, ProposalDroppedError } from "./node-errors.ts";
import { type PeerContact, PeerContactLog } from "./peer-contact.ts";
import { PeerMessageGate } from "./peer-message-gate.ts";
import { ReadBarriers } from "./read-barriers.ts";

export type { PeerContact } from "./peer-contact.ts";
import { observeApply, observeCommit, secondsBetween } from "../status/latency.ts";

/** Timer seam, so tests can drive time by hand. */
export interface Ticker {
  start(everyMs: number, tick: () => void): void;
  stop(): void;
}

/** The default ticker: setInterval, unref'd so it never holds the process open by itself. */
export function intervalTicker(): Ticker {
  let timer: NodeJS.Timeout | undefined;
  return {
    start(everyMs, tick) {
      timer = setInterval(tick, everyMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}

/** Options of {@link ElectorNode}. */
export interface ElectorNodeOptions {
  id: NodeId;
  store: LogStore;
  state: CoordinatorState;
  /** Builds the transport, given the callbacks it must use. */
  transport: (events: PeerTransportEvents) => PeerTransport;
  /** Founding electors (name -> address) from the config: how to reach peers before any entry says so. */
  founders: ReadonlyMap<NodeId, string>;
  /** The Raft tick, `timing.raft_heartbeat`. */
  tickMs: number;
  /** `timing.election_timeout` in ticks. */
  electionTicks: number;
  rng: Rng;
  logger: Logger;
  /** Take a snapshot and compact once this many entries are applied beyond the last one. */
  snapshotEntries?: number;
  /** Called when persisting fails: the node cannot continue safely (its memory is ahead of disk). */
  onFatal: (error: Error) => void;
  ticker?: Ticker;
  /** Monotonic milliseconds (when peers were last heard from, latencies); performance.now when absent. */
  now?: () => number;
}

/** A membership change breaks the rules of conf-change-rules.ts (a bad elector name or address). */
export class ConfChangeEntryError extends Error {
  override readonly name = "ConfChangeEntryError";
}

interface ProposalWaiter {
  term: number;
  /** When it was proposed (the `now` clock), for the commit latency. */
  proposedAt: number;
  resolve: (o: ApplyOutcome) => void;
  reject: (e: Error) => void;
}

/** One elector: Raft, durable storage, peer transport and the state machine, driven together. */
export class ElectorNode {
  readonly id: NodeId;
  private readonly raw: RawNode;
  private readonly transport: PeerTransport;
  private readonly ticker: Ticker;
  private running = false;
  private stopped = false;
  private failed = false;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly proposals = new Map<number, ProposalWaiter>();
  private readonly reads: ReadBarriers;
  /** Addresses of electors added by uncommitted (or committed) membership changes in our log. */
  private readonly logAddresses = new Map<NodeId, string>();
  private lastLeader: NodeId | null = null;
  private readonly snapshotEntries: number;
  private readonly leaderListeners = new Set<(leader: NodeId | null, term: number) => void>();
  private readonly applyListeners = new Set<(entry: Entry, outcome: ApplyOutcome) => void>();
  private readonly now: () => number;
  private readonly contact: PeerContactLog;
  /** What a peer message must pass before raft sees it (peer-message-gate.ts). */
  private readonly gate: PeerMessageGate;

  constructor(private readonly o: ElectorNodeOptions) {
    this.id = o.id;
    this.now = o.now ?? (() => performance.now());
    this.reads = new ReadBarriers(this.id, (ctx) => this.raw.readIndex(ctx));
    this.contact = new PeerContactLog(this.now, o.tickMs * o.electionTicks);
    this.gate = new PeerMessageGate(o.founders, o.logger);
    this.snapshotEntries = o.snapshotEntries ?? 10_000;
    const snap = o.store.snapshot();
    o.state.restore(snap.meta.index, snap.data);
    this.raw = new RawNode({
      id: o.id,
      storage: o.store,
      rng: o.rng,
      electionTick: o.electionTicks,
      heartbeatTick: 1,
      applied: snap.meta.index,
      maxSizePerMsg: 1 << 20,
      maxInflightMsgs: 256,
    });
    this.transport = o.transport({
      onMessage: (m) => this.onMessage(m),
      onUnreachable: (peer) => {
        this.raw.reportUnreachable(peer);
        this.schedule();
      },
      onSnapshotStatus: (peer, ok) => {
        this.raw.reportSnapshot(peer, ok);
        this.schedule();
      },
    });
    this.ticker = o.ticker ?? intervalTicker();
  }

  /** Start ticking and serving. */
  start(): void {
    this.updatePeers();
    this.ticker.start(this.o.tickMs, () => {
      this.raw.tick();
      this.schedule();
    });
    this.schedule();
  }

  /** Stop ticking, finish the Ready in progress, and fail outstanding requests. */
  async stop(): Promise<void> {
    await this.handOverLeadership();
    this.stopped = true;
    this.ticker.stop();
    await this.loopDone;
    for (const w of this.proposals.values()) w.reject(new NodeStoppedError());
    this.proposals.clear();
    this.reads.stop();
    await this.transport.close();
  }

  /**
   * A leader that is asked to stop hands leadership to its most up-to-date voter first, so
   * the cluster does not sit without a leader for an election timeout. Best effort: gives
   * up after about one election timeout.
   */
  private async handOverLeadership(): Promise<void> {
    const s = this.raw.status();
    if (s.role !== "leader") return;
    let best: NodeId | null = null;
    let bestMatch = -1;
    for (const id of s.conf.voters) {
      const m = s.progress.get(id)?.match ?? -1;
      if (id !== this.id && m > bestMatch) {
        best = id;
        bestMatch = m;
      }
    }
    if (best === null) return;
    this.o.logger.info({ to: best }, "stopping: handing leadership over");
    try {
      this.transferLeader(best);
    } catch {
      return;
    }
    const deadline = Date.now() + this.o.tickMs * this.o.electionTicks;
    while (Date.now() < deadline && this.raw.status().role === "leader")
      await new Promise((r) => setTimeout(r, 20));
  }

  /** Current Raft state. */
  status(): RaftStatus {
    return this.raw.status();
  }

  /**
   * When this node last heard from each peer (any Raft message it received from it), and
   * how long it has led: what its status may say about who is reachable.
   */
  peerContact(): PeerContact {
    return this.contact.snapshot(this.raw.status().role === "leader");
  }

  /** The leader this node knows of. */
  leader(): NodeId | null {
    return this.raw.status().leader;
  }

  /** Address of an elector, from the replicated book, our log, or the founding config. */
  addressOf(id: NodeId): string | undefined {
    return this.o.state.electorAddresses().get(id) ?? this.logAddresses.get(id) ?? this.o.founders.get(id);
  }

  /** Be told when the known leader changes. Returns an unsubscribe function. */
  onLeaderChange(listener: (leader: NodeId | null, term: number) => void): () => void {
    this.leaderListeners.add(listener);
    return () => this.leaderListeners.delete(listener);
  }

  /** Be told of every committed entry applied here, in order. Returns an unsubscribe function. */
  onApplied(listener: (entry: Entry, outcome: ApplyOutcome) => void): () => void {
    this.applyListeners.add(listener);
    return () => this.applyListeners.delete(listener);
  }

  /**
   * Replicate a command; resolves with its outcome once it is committed and applied here.
   * Every limit is checked before anything is proposed (the command's shape and names, the
   * limits that depend on the state, the size of the entry), and a command that the state
   * machine still refuses at apply time (the kv quota filled meanwhile by entries in flight)
   * rejects the same way, so a proposer sees one error whichever check caught it.
   * @throws NotLeaderError (with the leader's name) when this node is not the leader;
   *   BadCommandError for a malformed command or a bad name; LimitExceededError (thrown, or
   *   the rejection) naming the limit a command exceeds
   */
  propose(command: Command): Promise<ApplyOutcome> {
    const cmd = validateCommand(command);
    this.o.state.checkLimits(cmd);
    const data = encodeCommand(cmd);
    if (data.length > PROPOSAL_MAX_BYTES) {
      throw new LimitExceededError(
        "proposal",
        `${cmd.type}: the command is ${data.length} bytes; the largest proposal is ${formatBytes(PROPOSAL_MAX_BYTES)}`,
      );
    }
    if (this.stopped) return Promise.reject(new NodeStoppedError());
    const { index, term } = this.raw.propose(data);
    return this.waitForIndex(index, term).then((o) => {
      if (o.kind === "over-limit") throw new LimitExceededError(o.limit, o.reason);
      return o;
    });
  }

  /**
   * Propose a membership change; resolves once it is applied here.
   * @throws ConfChangeEntryError when the change breaks the rules every elector holds conf
   *   entries to (conf-change-rules.ts); what raft refuses (ConfChangeRefusedError, NotLeaderError)
   */
  proposeConfChange(cc: ConfChange): Promise<ApplyOutcome> {
    const problem = confChangeEntryProblem(encodeConfChange(cc));
    if (problem !== null) throw new ConfChangeEntryError(problem);
    if (this.stopped) return Promise.reject(new NodeStoppedError());
    const { index, term } = this.raw.proposeConfChange(cc);
    return this.waitForIndex(index, term);
  }

  /** Hand leadership to another voter. */
  transferLeader(to: NodeId): void {
    this.raw.transferLeader(to);
    this.schedule();
  }

  private waitForIndex(index: number, term: number): Promise<ApplyOutcome> {
    const p = new Promise<ApplyOutcome>((resolve, reject) =>
      this.proposals.set(index, { term, proposedAt: this.now(), resolve, reject }),
    );
    this.schedule();
    return p;
  }

  /**
   * Wait until this node's state machine reflects every write committed before the call
   * (ReadIndex): after it resolves, local reads are linearizable. Works on followers too
   * (the leader confirms the index).
   * @throws NotLeaderError when no leader is known; RequestTimeoutError after `timeoutMs`.
   */
  linearizableBarrier(timeoutMs: number): Promise<void> {
    if (this.stopped) return Promise.reject(new NodeStoppedError());
    const p = this.reads.wait(timeoutMs);
    this.schedule();
    return p;
  }

  /**
   * Ask a quorum to confirm that this node still leads (a ReadIndex round): resolves with the
   * time (performance.now) at which it was asked, once a quorum has acknowledged, in this
   * node's current term, a heartbeat sent after that time. So no other leader was elected
   * before that time: the handler leases count from it (contract/handler-lease.ts).
   * @throws NotLeaderError when this node does not lead, or leads in another term by then;
   *   RequestTimeoutError after `timeoutMs`.
   */
  async confirmLeadership(timeoutMs: number): Promise<number> {
    const before = this.raw.status();
    if (before.role !== "leader") throw new NotLeaderError(before.leader);
    const askedAt = performance.now();
    await this.linearizableBarrier(timeoutMs);
    const after = this.raw.status();
    if (after.role !== "leader" || after.term !== before.term) throw new NotLeaderError(after.leader);
    return askedAt;
  }

  private onMessage(m: Message): void {
    if (this.stopped) return;
    this.contact.heard(m.from);
    // A refused message is dropped before raft sees it, so nothing of it is persisted: the
    // sender (a correct leader retries) or the operator must fix it; this node keeps running.
    if (!this.gate.admits(m)) {
      this.schedule();
      return;
    }
    try {
      this.raw.step(m);
    } catch (e) {
      this.o.logger.warn({ err: e, from: m.from, type: m.type }, "dropped a peer message raft refused");
    }
    this.schedule();
  }

  /** Run the loop soon, unless it is running (it re-checks for work before it stops). */
  private schedule(): void {
    if (this.running || this.stopped) return;
    this.running = true;
    this.loopDone = new Promise((resolve) => setImmediate(() => this.loop().finally(resolve)));
  }

  private async loop(): Promise<void> {
    try {
      while (!this.stopped && this.raw.hasReady()) {
        await this.handleReady();
      }
    } catch (e) {
      this.fail(e);
    } finally {
      // No work can slip in between the last hasReady() check and this line (no await in
      // between), so anything that arrives later finds running false and schedules a loop.
      this.running = false;
    }
  }

  /** Persisting failed: memory is ahead of disk, so the node stops (once) and reports it. */
  private fail(e: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.stopped = true;
    this.ticker.stop();
    this.o.onFatal(e instanceof Error ? e : new Error(String(e)));
  }

  private async handleReady(): Promise<void> {
    const rd = this.raw.ready();
    // 1. Persist: one atomic, fsynced batch.
    if (rd.snapshot || rd.entries.length > 0 || rd.hardState) {
      const prev = this.o.store.hardState();
      const sync =
        rd.snapshot !== undefined ||
        rd.entries.length > 0 ||
        (rd.hardState !== undefined && (rd.hardState.term !== prev.term || rd.hardState.vote !== prev.vote));
      const write = this.o.store.persist({
        sync,
        entries: rd.entries,
        ...(rd.hardState ? { hardState: rd.hardState } : {}),
        ...(rd.snapshot ? { snapshot: rd.snapshot } : {}),
      });
      if (sync) await write;
      else {
        // Only the commit index moved (etcd's MustSync is false): nothing this Ready sends or
        // applies depends on it being on disk, and a crash that loses it only makes this node
        // relearn it from the leader. So the write is not waited for; the store runs writes in
        // order, so every later one lands after it, and a failure stops the node as any does.
        write.catch((e: unknown) => this.fail(e));
      }
    }
    let confChanged = this.noteConfEntries(rd.entries);
    // Whom we may answer changes with the configuration in our log and with the leader
    // (a joining node knows nobody until the leader's first message): update before sending.
    if (confChanged || rd.softState) this.updatePeers();
    // 2. Send, now that what the messages promise is durable.
    if (rd.messages.length > 0) this.transport.send(rd.messages);
    // 3. Apply.
    if (rd.snapshot) {
      this.o.state.restore(rd.snapshot.meta.index, rd.snapshot.data);
      this.o.logger.info({ index: rd.snapshot.meta.index }, "restored a snapshot from the leader");
      confChanged = true;
    }
    for (const e of rd.committedEntries) {
      if (this.applyEntry(e)) confChanged = true;
    }
    for (const rs of rd.readStates) this.reads.confirmed(rs, this.o.state.applied);
    // 4. Advance.
    this.raw.advance();
    if (confChanged) this.updatePeers();
    if (rd.softState) this.onSoftState();
    await this.maybeSnapshot();
  }

  /** Remember the addresses carried by membership changes as soon as they are in our log. */
  private noteConfEntries(entries: readonly Entry[]): boolean {
    let any = false;
    for (const e of entries) {
      if (e.type !== "conf") continue;
      const cc = decodeConfChange(e.data);
      if (cc.context) this.logAddresses.set(cc.node, cc.context);
      any = true;
    }
    return any;
  }

  private applyEntry(e: Entry): boolean {
    const applyStart = this.now();
    const outcome = this.o.state.apply(e);
    const applied = this.now();
    observeApply(secondsBetween(applyStart, applied));
    if (outcome.kind === "rejected") {
      this.o.logger.error(
        { index: e.index, reason: outcome.reason },
        "skipped a committed entry that is not a valid command",
      );
    }
    for (const l of this.applyListeners) {
      try {
        l(e, outcome);
      } catch (err) {
        this.o.logger.error({ err, index: e.index }, "an apply listener threw");
      }
    }
    const w = this.proposals.get(e.index);
    if (w) {
      this.proposals.delete(e.index);
      if (w.term === e.term) {
        observeCommit(secondsBetween(w.proposedAt, applied));
        w.resolve(outcome);
      } else w.reject(new ProposalDroppedError(e.index));
    }
    this.reads.release(this.o.state.applied);
    return outcome.kind === "conf";
  }

  private onSoftState(): void {
    const s = this.raw.status();
    if (s.leader !== this.lastLeader) {
      this.lastLeader = s.leader;
      this.contact.leaderChanged(s.leader === this.id);
      this.o.logger.info({ leader: s.leader, term: s.term, role: s.role }, "leader changed");
      for (const l of this.leaderListeners) l(s.leader, s.term);
      this.reads.reissue();
    }
    // Proposals made to us as leader that can no longer commit through us fail fast when a
    // newer leader overwrites them (applyEntry).
  }

  /** Tell the transport whom to talk to: every voter and learner, and the leader, except us. */
  private updatePeers(): void {
    const { conf, leader } = this.raw.status();
    const peers = new Map<NodeId, string>();
    for (const id of [...conf.voters, ...conf.learners, ...(leader ? [leader] : [])]) {
      if (id === this.id) continue;
      const addr = this.addressOf(id);
      if (addr) peers.set(id, addr);
      else this.o.logger.warn({ peer: id }, "no address known for a cluster member");
    }
    this.transport.setPeers(peers);
  }

  private async maybeSnapshot(): Promise<void> {
    const applied = this.o.state.applied;
    const first = this.o.store.firstIndex();
    if (applied - (first - 1) < this.snapshotEntries) return;
    await this.o.store.createSnapshot(applied, this.raw.confAt(applied), this.o.state.snapshot());
    this.o.logger.info({ index: applied }, "took a snapshot and compacted the log");
  }
}
