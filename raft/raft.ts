/**
 * The Raft state machine (modelled on etcd-io/raft's design, written from the paper and
 * dissertation). Deterministic: it changes only in `step`, `tick` and the local requests,
 * reads time as ticks and randomness from the injected {@link Rng}, and queues outgoing
 * messages for the application to send after it has persisted the matching state.
 *
 * Features: pre-vote, check-quorum with a leader lease that makes voters ignore disruptive
 * vote requests, the election restriction, fast log backtracking, flow control, snapshots,
 * single-server membership changes with learners, leadership transfer and ReadIndex.
 */
import { applyConfChange, assertConfChange, decodeConfChange, encodeConfChange } from "./conf-change.ts";
import { ConfChangeRefusedError, LeaderTransferringError, NotLeaderError, RaftUsageError } from "./errors.ts";
import { Progress } from "./progress.ts";
import { committedIndex, voteResult } from "./quorum.ts";
import { RaftLog } from "./raft-log.ts";
import { ReadOnlyQueue } from "./read-only.ts";
import type { Rng } from "./rng.ts";
import type { Storage } from "./storage.ts";
import {
  type ConfChange,
  type ConfState,
  type Entry,
  entrySize,
  type HardState,
  type Message,
  type MessageType,
  message,
  type NodeId,
  type ReadState,
  type Role,
  type Snapshot,
} from "./types.ts";

/** Options of a Raft node. Tick counts are in units of the runtime's tick interval. */
export interface RaftOptions {
  /** This node's id. */
  id: NodeId;
  /** Persisted state to start from. */
  storage: Storage;
  /** Randomness for election timeouts. */
  rng: Rng;
  /** Ticks without hearing from a leader before campaigning (randomized in [n, 2n)). Default 10. */
  electionTick?: number;
  /** Ticks between leader heartbeats. Default 1. Must be less than electionTick. */
  heartbeatTick?: number;
  /** Most bytes of entries in one append message. Default 1 MiB. */
  maxSizePerMsg?: number;
  /** Most unacknowledged append messages per follower. Default 256. */
  maxInflightMsgs?: number;
  /** Most unacknowledged bytes per follower (0 = only the count limits). Default 0. */
  maxInflightBytes?: number;
  /** Most bytes of committed entries in one Ready. Default 4 MiB. */
  maxCommittedSizePerReady?: number;
  /** Run a pre-vote round before a real election (no term bump unless it would win). Default true. */
  preVote?: boolean;
  /** A leader without a quorum's contact for an election timeout steps down. Default true. */
  checkQuorum?: boolean;
  /** The application's applied index at restart (defaults to the snapshot index). */
  applied?: number;
}

/** The leader's view of one peer, as reported by {@link Raft.status}. */
export interface PeerStatus {
  readonly match: number;
  readonly next: number;
  readonly state: string;
  readonly learner: boolean;
  readonly recentActive: boolean;
}

/** A read-only view of a node's state, for metrics, `conclave status` and tests. */
export interface RaftStatus {
  readonly id: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly role: Role;
  readonly leader: NodeId | null;
  readonly commit: number;
  readonly applied: number;
  readonly lastIndex: number;
  readonly conf: ConfState;
  readonly leadTransferee: NodeId | null;
  /** Only on the leader: every member's replication progress. */
  readonly progress: ReadonlyMap<NodeId, PeerStatus>;
}

/** Marks a vote request sent because of a leadership transfer: voters must not ignore it. */
const TRANSFER_CONTEXT = "transfer";

/** The Raft state machine. Use it through {@link RawNode}, which adds the Ready cycle. */
export class Raft {
  readonly id: NodeId;
  term = 0;
  vote: NodeId = "";
  role: Role = "follower";
  leader: NodeId | null = null;
  readonly log: RaftLog;
  /** Outgoing messages, taken by the next Ready. */
  msgs: Message[] = [];
  /** Confirmed linearizable reads, taken by the next Ready. */
  readStates: ReadState[] = [];

  private readonly rng: Rng;
  private readonly electionTick: number;
  private readonly heartbeatTick: number;
  private readonly maxSizePerMsg: number;
  private readonly maxInflightMsgs: number;
  private readonly maxInflightBytes: number;
  readonly maxCommittedSizePerReady: number;
  private readonly preVote: boolean;
  private readonly checkQuorum: boolean;

  /**
   * The configuration timeline: the snapshot's configuration first, then one element per
   * conf entry in the log, in index order. The last element is in force (dissertation
   * §4.1: a node uses the latest configuration in its log, committed or not).
   */
  private confs: { index: number; conf: ConfState }[];
  private readonly progress = new Map<NodeId, Progress>();
  private votes = new Map<NodeId, boolean>();
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  private leadTransferee: NodeId | null = null;
  private readonly readOnly = new ReadOnlyQueue();
  /** Reads that arrived before this leader committed an entry of its term. */
  private pendingReads: { context: string; from: NodeId }[] = [];
  /** Ticks each peer has spent in snapshot state (a lost snapshot is retried after a while). */
  private readonly snapshotTicks = new Map<NodeId, number>();

  constructor(options: RaftOptions) {
    this.id = options.id;
    this.rng = options.rng;
    this.electionTick = options.electionTick ?? 10;
    this.heartbeatTick = options.heartbeatTick ?? 1;
    if (this.heartbeatTick <= 0 || this.electionTick <= this.heartbeatTick) {
      throw new RaftUsageError("electionTick must be greater than heartbeatTick, and both positive");
    }
    this.maxSizePerMsg = options.maxSizePerMsg ?? 1 << 20;
    this.maxInflightMsgs = options.maxInflightMsgs ?? 256;
    this.maxInflightBytes = options.maxInflightBytes ?? 0;
    this.maxCommittedSizePerReady = options.maxCommittedSizePerReady ?? 4 << 20;
    this.preVote = options.preVote ?? true;
    this.checkQuorum = options.checkQuorum ?? true;

    const storage = options.storage;
    this.log = new RaftLog(storage);
    const { hardState, conf } = storage.initialState();
    const first = storage.firstIndex();
    this.confs = [{ index: first - 1, conf }];
    const last = storage.lastIndex();
    if (last >= first) this.trackConfEntries(storage.entries(first, last + 1, Number.POSITIVE_INFINITY));
    if (hardState.commit > last) {
      throw new RaftUsageError(`hard state commit ${hardState.commit} is beyond the last log index ${last}`);
    }
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.log.commitTo(hardState.commit);
    if (options.applied !== undefined && options.applied > this.log.applied)
      this.log.appliedTo(options.applied);
    this.becomeFollower(this.term, null);
  }

  // ---------------------------------------------------------------- configuration

  /** The configuration in force on this node (the latest in its log). */
  conf(): ConfState {
    return this.confs[this.confs.length - 1]!.conf;
  }

  /** The configuration in force at log index `index` (at or after the snapshot). */
  confAt(index: number): ConfState {
    let c = this.confs[0]!;
    for (const x of this.confs) {
      if (x.index > index) break;
      c = x;
    }
    return c.conf;
  }

  private lastConfIndex(): number {
    return this.confs[this.confs.length - 1]!.index;
  }

  /** Whether this node may campaign: it is a voter in its latest configuration. */
  promotable(): boolean {
    return this.conf().voters.includes(this.id);
  }

  /** Fold newly appended entries into the configuration timeline. */
  private trackConfEntries(ents: readonly Entry[]): void {
    let changed = false;
    for (const e of ents) {
      if (e.type !== "conf") continue;
      const cc = decodeConfChange(e.data);
      this.confs.push({ index: e.index, conf: applyConfChange(this.conf(), cc) });
      changed = true;
    }
    if (changed) this.onConfChanged();
  }

  /** The log was truncated from `index` on: forget configurations that came from those entries. */
  private truncateConfs(index: number): void {
    const before = this.confs.length;
    while (this.confs.length > 1 && this.confs[this.confs.length - 1]!.index >= index) this.confs.pop();
    if (this.confs.length !== before) this.onConfChanged();
  }

  private onConfChanged(): void {
    if (this.role === "leader") this.syncProgress();
    if (this.leadTransferee !== null && !this.conf().voters.includes(this.leadTransferee))
      this.leadTransferee = null;
  }

  /** Make the progress map match the configuration: add new members, drop removed ones. */
  private syncProgress(): void {
    const conf = this.conf();
    const members = new Set([...conf.voters, ...conf.learners]);
    for (const id of [...this.progress.keys()]) {
      if (!members.has(id)) {
        this.progress.delete(id);
        this.snapshotTicks.delete(id);
      }
    }
    for (const id of members) {
      const isLearner = conf.learners.includes(id);
      const old = this.progress.get(id);
      if (old && old.isLearner === isLearner) continue;
      const pr = this.newProgress(isLearner);
      if (old) {
        pr.match = old.match;
        pr.next = old.next;
        pr.recentActive = old.recentActive;
      }
      if (id === this.id) pr.match = this.log.lastIndex();
      this.progress.set(id, pr);
    }
  }

  private newProgress(isLearner: boolean): Progress {
    const pr = new Progress({
      next: this.log.lastIndex() + 1,
      isLearner,
      maxInflight: this.maxInflightMsgs,
      maxInflightBytes: this.maxInflightBytes,
    });
    // A new peer counts as active so that the leader does not step down or skip snapshots for it at once.
    pr.recentActive = true;
    return pr;
  }

  // ---------------------------------------------------------------- role changes

  private reset(term: number): void {
    if (this.term !== term) {
      this.term = term;
      this.vote = "";
    }
    this.leader = null;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.randomizedElectionTimeout = this.electionTick + this.rng.int(this.electionTick);
    this.leadTransferee = null;
    this.votes = new Map();
    this.progress.clear();
    this.snapshotTicks.clear();
    this.readOnly.reset();
    this.pendingReads = [];
  }

  private becomeFollower(term: number, leader: NodeId | null): void {
    this.reset(term);
    this.role = "follower";
    this.leader = leader;
  }

  private becomePreCandidate(): void {
    // A pre-candidate keeps its term and vote: a lost pre-vote disturbs nobody.
    this.votes = new Map();
    this.leader = null;
    this.role = "pre-candidate";
  }

  private becomeCandidate(): void {
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  private becomeLeader(): void {
    this.reset(this.term);
    this.role = "leader";
    this.leader = this.id;
    this.syncProgress();
    const self = this.progress.get(this.id);
    if (self) self.becomeReplicate();
    // An empty entry of the new term: committing it commits every earlier entry (Figure 8).
    this.appendEntries([{ term: this.term, index: 0, type: "normal", data: new Uint8Array() }]);
    this.bcastAppend();
  }

  // ---------------------------------------------------------------- ticks

  /** Advance logical time by one tick. */
  tick(): void {
    if (this.role === "leader") this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    for (const [id, pr] of this.progress) {
      if (pr.state !== "snapshot") continue;
      const t = (this.snapshotTicks.get(id) ?? 0) + 1;
      this.snapshotTicks.set(id, t);
      // The snapshot or its answer was lost and nobody reported it: probe again.
      if (t >= 2 * this.electionTick) {
        pr.becomeProbe();
        this.snapshotTicks.delete(id);
      }
    }
    if (this.electionElapsed >= this.electionTick) {
      this.electionElapsed = 0;
      if (this.checkQuorum && !this.quorumActive()) {
        this.becomeFollower(this.term, null);
        return;
      }
      // A transfer that did not finish within an election timeout is abandoned.
      this.leadTransferee = null;
    }
    if (this.heartbeatElapsed >= this.heartbeatTick) {
      this.heartbeatElapsed = 0;
      this.bcastHeartbeat(this.readOnly.lastContext() ?? "");
    }
  }

  /** Whether a quorum of voters was heard from since the last check; clears the marks. */
  private quorumActive(): boolean {
    const voters = this.conf().voters;
    const votes = new Map<NodeId, boolean>();
    for (const v of voters) votes.set(v, v === this.id || (this.progress.get(v)?.recentActive ?? false));
    for (const [id, pr] of this.progress) pr.recentActive = id === this.id;
    return voteResult(voters, votes) === "won";
  }

  // ---------------------------------------------------------------- elections

  /** Start an election now (the application's `campaign`). */
  campaign(): void {
    this.hup(false);
  }

  private hup(transfer: boolean): void {
    if (this.role === "leader" || !this.promotable()) return;
    if (this.preVote && !transfer) this.runElection("prevote", false);
    else this.runElection("vote", transfer);
  }

  private runElection(kind: "prevote" | "vote", transfer: boolean): void {
    let term: number;
    if (kind === "prevote") {
      this.becomePreCandidate();
      term = this.term + 1;
    } else {
      this.becomeCandidate();
      term = this.term;
    }
    if (this.recordVote(this.id, true, kind) !== "pending") return;
    for (const id of this.conf().voters) {
      if (id === this.id) continue;
      this.send(
        message({
          type: kind,
          from: this.id,
          to: id,
          term,
          index: this.log.lastIndex(),
          logTerm: this.log.lastTerm(),
          context: transfer ? TRANSFER_CONTEXT : "",
        }),
      );
    }
  }

  /** Record a (pre-)vote answer and act on the result; returns the result. */
  private recordVote(from: NodeId, granted: boolean, kind: "prevote" | "vote"): "won" | "lost" | "pending" {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    const result = voteResult(this.conf().voters, this.votes);
    if (result === "won") {
      if (kind === "prevote") this.runElection("vote", false);
      else this.becomeLeader();
    } else if (result === "lost") {
      this.becomeFollower(this.term, null);
    }
    return result;
  }

  // ---------------------------------------------------------------- step

  /** Process a message from a peer. */
  step(m: Message): void {
    if (m.to !== this.id) throw new RaftUsageError(`message for ${m.to} stepped into ${this.id}`);
    if (m.term > this.term) {
      if (m.type === "vote" || m.type === "prevote") {
        const force = m.context === TRANSFER_CONTEXT;
        const inLease = this.checkQuorum && this.leader !== null && this.electionElapsed < this.electionTick;
        // Leader lease: while we hear from a live leader, a vote request (from a removed
        // or partitioned node) is not allowed to disturb us, unless it is a transfer.
        if (!force && inLease) return;
      }
      if (m.type === "prevote") {
        // Never change term because of a pre-vote request.
      } else if (m.type === "prevote-resp" && !m.reject) {
        // A granted pre-vote carries the future term; we take it only when we campaign for real.
      } else if (m.type === "app" || m.type === "heartbeat" || m.type === "snap") {
        this.becomeFollower(m.term, m.from);
      } else {
        this.becomeFollower(m.term, null);
      }
    } else if (m.term < this.term) {
      if ((this.checkQuorum || this.preVote) && (m.type === "heartbeat" || m.type === "app")) {
        // A stale leader (for example one just healed from a partition): our answer carries
        // the newer term, so it steps down instead of disturbing the cluster later.
        this.send(message({ type: "app-resp", from: this.id, to: m.from, term: this.term }));
      } else if (m.type === "prevote") {
        this.send(
          message({ type: "prevote-resp", from: this.id, to: m.from, term: this.term, reject: true }),
        );
      }
      return;
    }

    if (m.type === "vote" || m.type === "prevote") {
      this.handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case "leader":
        this.stepLeader(m);
        break;
      case "candidate":
      case "pre-candidate":
        this.stepCandidate(m);
        break;
      case "follower":
        this.stepFollower(m);
        break;
    }
  }

  private handleVoteRequest(m: Message): void {
    const respType: MessageType = m.type === "vote" ? "vote-resp" : "prevote-resp";
    const canVote =
      this.vote === m.from ||
      (this.vote === "" && this.leader === null) ||
      (m.type === "prevote" && m.term > this.term);
    if (canVote && this.log.isUpToDate(m.index, m.logTerm)) {
      this.send(message({ type: respType, from: this.id, to: m.from, term: m.term }));
      if (m.type === "vote") {
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.send(message({ type: respType, from: this.id, to: m.from, term: this.term, reject: true }));
    }
  }

  private stepLeader(m: Message): void {
    const pr = this.progress.get(m.from);
    switch (m.type) {
      case "app-resp":
        if (!pr) return;
        pr.recentActive = true;
        this.handleAppendResponse(m, pr);
        return;
      case "heartbeat-resp":
        if (!pr) return;
        pr.recentActive = true;
        pr.probeSent = false;
        if (pr.state === "replicate" && pr.inflights.full()) pr.inflights.freeFirstOne();
        if (pr.match < this.log.lastIndex()) this.sendAppend(m.from);
        if (m.context !== "") this.handleReadAck(m.context, m.from);
        return;
      case "read-index":
        this.handleReadRequest(m.context, m.from);
        return;
      default:
        return;
    }
  }

  private handleAppendResponse(m: Message, pr: Progress): void {
    if (m.reject) {
      let nextProbe = m.rejectHint;
      if (m.logTerm > 0) nextProbe = this.log.findConflictByTerm(m.rejectHint, m.logTerm).index;
      if (pr.maybeDecrTo(m.index, nextProbe)) {
        if (pr.state === "replicate") pr.becomeProbe();
        this.sendAppend(m.from);
      }
      return;
    }
    const wasPaused = pr.isPaused();
    if (!pr.maybeUpdate(m.index)) return;
    if (pr.state === "probe") pr.becomeReplicate();
    else if (pr.state === "snapshot" && pr.match >= pr.pendingSnapshot) {
      this.snapshotTicks.delete(m.from);
      pr.becomeReplicate();
    } else if (pr.state === "replicate") pr.inflights.freeLE(m.index);

    if (this.maybeCommit()) {
      if (this.role !== "leader") return;
      this.bcastAppend();
    } else if (wasPaused) {
      this.sendAppend(m.from);
    }
    // Fill the window: send as much as flow control allows.
    while (this.progress.get(m.from) === pr && this.sendAppend(m.from, false)) {}
    if (m.from === this.leadTransferee && pr.match === this.log.lastIndex()) this.sendTimeoutNow(m.from);
  }

  private stepCandidate(m: Message): void {
    switch (m.type) {
      case "app":
        this.becomeFollower(m.term, m.from);
        this.handleAppend(m);
        return;
      case "heartbeat":
        this.becomeFollower(m.term, m.from);
        this.handleHeartbeat(m);
        return;
      case "snap":
        this.becomeFollower(m.term, m.from);
        this.handleSnapshot(m);
        return;
      case "vote-resp":
        if (this.role === "candidate") this.recordVote(m.from, !m.reject, "vote");
        return;
      case "prevote-resp":
        if (this.role === "pre-candidate") this.recordVote(m.from, !m.reject, "prevote");
        return;
      default:
        return;
    }
  }

  private stepFollower(m: Message): void {
    switch (m.type) {
      case "app":
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleAppend(m);
        return;
      case "heartbeat":
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleHeartbeat(m);
        return;
      case "snap":
        this.electionElapsed = 0;
        this.leader = m.from;
        this.handleSnapshot(m);
        return;
      case "timeout-now":
        // The leader is handing over: campaign at once, without pre-vote, past the lease.
        this.hup(true);
        return;
      case "read-index-resp":
        this.readStates.push({ index: m.index, context: m.context });
        return;
      default:
        return;
    }
  }

  // ---------------------------------------------------------------- follower side of replication

  private handleAppend(m: Message): void {
    if (m.index < this.log.committed) {
      this.send(
        message({ type: "app-resp", from: this.id, to: m.from, term: this.term, index: this.log.committed }),
      );
      return;
    }
    const appended = this.log.maybeAppend(m.index, m.logTerm, m.commit, m.entries);
    if (appended !== undefined) {
      if (appended.conflict !== 0) {
        this.truncateConfs(appended.conflict);
        this.trackConfEntries(m.entries.slice(appended.conflict - (m.index + 1)));
      }
      this.send(
        message({ type: "app-resp", from: this.id, to: m.from, term: this.term, index: appended.lastNew }),
      );
      return;
    }
    // Consistency check failed: tell the leader where our log could match (fast backtracking).
    const hint = this.log.findConflictByTerm(Math.min(m.index, this.log.lastIndex()), m.logTerm);
    this.send(
      message({
        type: "app-resp",
        from: this.id,
        to: m.from,
        term: this.term,
        index: m.index,
        reject: true,
        rejectHint: hint.index,
        logTerm: hint.term,
      }),
    );
  }

  private handleHeartbeat(m: Message): void {
    // The leader sends min(match, commit), so this never commits an entry we do not share.
    this.log.commitTo(Math.min(m.commit, this.log.lastIndex()));
    this.send(
      message({ type: "heartbeat-resp", from: this.id, to: m.from, term: this.term, context: m.context }),
    );
  }

  private handleSnapshot(m: Message): void {
    const snap = m.snapshot;
    if (snap && this.restore(snap)) {
      this.send(
        message({
          type: "app-resp",
          from: this.id,
          to: m.from,
          term: this.term,
          index: this.log.lastIndex(),
        }),
      );
    } else {
      this.send(
        message({ type: "app-resp", from: this.id, to: m.from, term: this.term, index: this.log.committed }),
      );
    }
  }

  private restore(snap: Snapshot): boolean {
    if (snap.meta.index <= this.log.committed) return false;
    if (this.log.matchTerm(snap.meta.index, snap.meta.term)) {
      // We already have the entry: just learn that it is committed.
      this.log.commitTo(snap.meta.index);
      return false;
    }
    this.log.restore(snap);
    this.confs = [{ index: snap.meta.index, conf: snap.meta.conf }];
    this.onConfChanged();
    return true;
  }

  // ---------------------------------------------------------------- leader side of replication

  /** Append entries of the current term at the end of the leader's log (indexes are assigned here). */
  private appendEntries(ents: Entry[]): number {
    const last = this.log.lastIndex();
    const stamped = ents.map((e, i) => ({ ...e, term: this.term, index: last + 1 + i }));
    const newLast = this.log.append(stamped);
    const self = this.progress.get(this.id);
    if (self) self.maybeUpdate(newLast);
    this.trackConfEntries(stamped);
    this.maybeCommit();
    return newLast;
  }

  /**
   * Advance commit to what a quorum has matched, but only through an entry of this term
   * (Figure 8: counting replicas never commits an entry of an earlier term directly).
   */
  private maybeCommit(): boolean {
    const voters = this.conf().voters;
    if (voters.length === 0) return false;
    const mci = committedIndex(voters, (id) => this.progress.get(id)?.match ?? 0);
    if (!this.log.maybeCommit(mci, this.term)) return false;
    this.afterCommit();
    return true;
  }

  private afterCommit(): void {
    // A leader removed by a committed change steps down; the rest elect a leader among themselves.
    if (!this.conf().voters.includes(this.id) && this.lastConfIndex() <= this.log.committed) {
      // Tell the others the new commit index first, so they need not wait for a new leader to learn it.
      this.bcastAppend();
      this.becomeFollower(this.term, null);
      return;
    }
    if (this.pendingReads.length > 0 && this.committedInCurrentTerm()) {
      const reads = this.pendingReads;
      this.pendingReads = [];
      for (const r of reads) this.handleReadRequest(r.context, r.from);
    }
  }

  private committedInCurrentTerm(): boolean {
    return this.log.term(this.log.committed) === this.term;
  }

  /**
   * Send `to` the entries it needs, or a snapshot when they are compacted. Returns whether a
   * message was sent. With `sendIfEmpty` false, nothing is sent when there is nothing new.
   */
  private sendAppend(to: NodeId, sendIfEmpty = true): boolean {
    const pr = this.progress.get(to);
    if (!pr || to === this.id || pr.isPaused()) return false;
    const prevIndex = pr.next - 1;
    const prevTerm = this.log.term(prevIndex);
    let ents: Entry[] | undefined;
    if (prevTerm !== undefined) {
      try {
        ents = this.log.entriesFrom(pr.next, this.maxSizePerMsg);
      } catch {
        ents = undefined;
      }
    }
    if (prevTerm === undefined || ents === undefined) {
      if (!pr.recentActive) return false;
      const snapshot = this.log.snapshot();
      this.send(message({ type: "snap", from: this.id, to, term: this.term, snapshot }));
      pr.becomeSnapshot(snapshot.meta.index);
      this.snapshotTicks.set(to, 0);
      return true;
    }
    if (ents.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const e of ents) bytes += entrySize(e);
    this.send(
      message({
        type: "app",
        from: this.id,
        to,
        term: this.term,
        index: prevIndex,
        logTerm: prevTerm,
        entries: ents,
        commit: this.log.committed,
      }),
    );
    pr.sentEntries(prevIndex + ents.length, ents.length, bytes);
    return true;
  }

  private bcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.sendAppend(id);
  }

  private bcastHeartbeat(context: string): void {
    for (const [id, pr] of this.progress) {
      if (id === this.id) continue;
      const commit = Math.min(pr.match, this.log.committed);
      this.send(message({ type: "heartbeat", from: this.id, to: id, term: this.term, commit, context }));
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.send(message({ type: "timeout-now", from: this.id, to, term: this.term }));
  }

  private send(m: Message): void {
    this.msgs.push(m);
  }

  // ---------------------------------------------------------------- requests from the application

  /**
   * Append `data` as a new entry. Returns its index and term; the entry is committed once
   * it appears in a Ready's committedEntries with that term.
   * @throws NotLeaderError (naming the known leader) or LeaderTransferringError.
   */
  propose(data: Uint8Array): { index: number; term: number } {
    return this.proposeMany([data]);
  }

  /**
   * Append several entries at once (a runtime's group commit): one append message per
   * follower for the whole batch instead of one per entry. Returns the index of the last
   * entry (the first is `index - data.length + 1`) and the term.
   * @throws NotLeaderError or LeaderTransferringError, as {@link propose}.
   */
  proposeMany(data: readonly Uint8Array[]): { index: number; term: number } {
    this.assertCanPropose();
    if (data.length === 0) return { index: this.log.lastIndex(), term: this.term };
    const index = this.appendEntries(
      data.map((d) => ({ term: this.term, index: 0, type: "normal" as const, data: d })),
    );
    this.bcastAppend();
    return { index, term: this.term };
  }

  /**
   * Propose a single-server membership change.
   * @throws ConfChangeRefusedError when another change is pending, the leader has not yet
   * committed an entry of its term, or the change does not apply; NotLeaderError off the leader.
   */
  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    this.assertCanPropose();
    if (!this.committedInCurrentTerm()) {
      throw new ConfChangeRefusedError("the leader has not yet committed an entry of its term");
    }
    if (this.lastConfIndex() > this.log.committed) {
      throw new ConfChangeRefusedError(`another change is pending at index ${this.lastConfIndex()}`);
    }
    assertConfChange(this.conf(), cc);
    const index = this.appendEntries([
      { term: this.term, index: 0, type: "conf", data: encodeConfChange(cc) },
    ]);
    this.bcastAppend();
    return { index, term: this.term };
  }

  private assertCanPropose(): void {
    // A leader that has removed itself keeps leading (and taking proposals) until the
    // removal commits; it just does not count itself in majorities (dissertation §4.2.2).
    if (this.role !== "leader") throw new NotLeaderError(this.leader);
    if (this.leadTransferee !== null) throw new LeaderTransferringError(this.leadTransferee);
  }

  /**
   * Hand leadership to `target` (a voter). The leader stops taking proposals, brings the
   * target up to date, then tells it to campaign at once. Abandoned after an election timeout.
   * @throws NotLeaderError off the leader; RaftUsageError when `target` is not a voter.
   */
  transferLeader(target: NodeId): void {
    if (this.role !== "leader") throw new NotLeaderError(this.leader);
    if (target === this.id || target === this.leadTransferee) return;
    if (!this.conf().voters.includes(target)) throw new RaftUsageError(`${target} is not a voter`);
    this.leadTransferee = target;
    this.electionElapsed = 0;
    const pr = this.progress.get(target)!;
    if (pr.match === this.log.lastIndex()) this.sendTimeoutNow(target);
    else this.sendAppend(target);
  }

  /**
   * Ask for a linearizable read. When confirmed, a ReadState with `context` and the index
   * the state machine must reach appears in a Ready.
   * @throws NotLeaderError when no leader is known.
   */
  readIndex(context: string): void {
    if (this.role === "leader") {
      this.handleReadRequest(context, this.id);
    } else if (this.role === "follower" && this.leader !== null) {
      this.send(message({ type: "read-index", from: this.id, to: this.leader, term: this.term, context }));
    } else {
      throw new NotLeaderError(this.leader);
    }
  }

  private handleReadRequest(context: string, from: NodeId): void {
    if (!this.committedInCurrentTerm()) {
      // Our commit index may be stale until an entry of our term commits (dissertation §6.4).
      this.pendingReads.push({ context, from });
      return;
    }
    const voters = this.conf().voters;
    if (voters.length === 1 && voters[0] === this.id) {
      this.releaseRead({ index: this.log.committed, context, from });
      return;
    }
    this.readOnly.add({ index: this.log.committed, context, from }, this.id);
    this.bcastHeartbeat(context);
  }

  private handleReadAck(context: string, from: NodeId): void {
    const acks = this.readOnly.ack(context, from);
    if (!acks) return;
    const votes = new Map<NodeId, boolean>();
    for (const a of acks) votes.set(a, true);
    if (voteResult(this.conf().voters, votes) !== "won") return;
    for (const r of this.readOnly.releaseThrough(context)) this.releaseRead(r);
  }

  private releaseRead(r: { index: number; context: string; from: NodeId }): void {
    if (r.from === this.id) this.readStates.push({ index: r.index, context: r.context });
    else {
      this.send(
        message({
          type: "read-index-resp",
          from: this.id,
          to: r.from,
          term: this.term,
          index: r.index,
          context: r.context,
        }),
      );
    }
  }

  /** The transport could not reach `id`: stop streaming to it optimistically. */
  reportUnreachable(id: NodeId): void {
    const pr = this.progress.get(id);
    if (this.role === "leader" && pr && pr.state === "replicate") pr.becomeProbe();
  }

  /** The transport finished (or failed) sending a snapshot to `id`. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    const pr = this.progress.get(id);
    if (this.role !== "leader" || !pr || pr.state !== "snapshot") return;
    if (!ok) pr.pendingSnapshot = 0;
    this.snapshotTicks.delete(id);
    pr.becomeProbe();
    // Wait for the follower's answer (or the next heartbeat) before probing again.
    pr.probeSent = true;
  }

  /** The hard state as it should be persisted now. */
  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  /** A snapshot of this node's state for observation. */
  status(): RaftStatus {
    const progress = new Map<NodeId, PeerStatus>();
    if (this.role === "leader") {
      for (const [id, pr] of this.progress) {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          learner: pr.isLearner,
          recentActive: pr.recentActive,
        });
      }
    }
    return {
      id: this.id,
      term: this.term,
      vote: this.vote,
      role: this.role,
      leader: this.leader,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      conf: this.conf(),
      leadTransferee: this.leadTransferee,
      progress,
    };
  }
}
