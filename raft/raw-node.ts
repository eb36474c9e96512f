/**
 * The application's handle on a Raft node: the Ready / advance cycle over {@link Raft}.
 *
 * Loop: call `tick()` on a timer and `step()` for each message received; whenever
 * `hasReady()`, take `ready()`, persist its snapshot, entries and hard state, then send its
 * messages, then apply its committed entries, then call `advance()`. Persisting before
 * sending is what makes a vote or an acknowledgement survive a crash.
 */
import { RaftUsageError } from "./errors.ts";
import { Raft, type RaftOptions, type RaftStatus } from "./raft.ts";
import type { ConfChange, ConfState, HardState, Message, NodeId, Ready, SoftState } from "./types.ts";

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}

/** A Raft node driven through Ready / advance. */
export class RawNode {
  private readonly raft: Raft;
  private prevSoft: SoftState;
  private prevHard: HardState;
  private pending: Ready | null = null;

  constructor(options: RaftOptions) {
    this.raft = new Raft(options);
    this.prevSoft = this.softState();
    this.prevHard = this.raft.hardState();
  }

  /** This node's id. */
  get id(): NodeId {
    return this.raft.id;
  }

  private softState(): SoftState {
    return { leader: this.raft.leader, role: this.raft.role };
  }

  /** Advance logical time by one tick. */
  tick(): void {
    this.raft.tick();
  }

  /** Process a message received from a peer. */
  step(m: Message): void {
    this.raft.step(m);
  }

  /** Start an election now (pre-vote first when enabled). */
  campaign(): void {
    this.raft.campaign();
  }

  /** Propose application data. @see Raft.propose */
  propose(data: Uint8Array): { index: number; term: number } {
    return this.raft.propose(data);
  }

  /** Propose a batch of entries with one append per follower. @see Raft.proposeMany */
  proposeMany(data: readonly Uint8Array[]): { index: number; term: number } {
    return this.raft.proposeMany(data);
  }

  /** Propose a membership change. @see Raft.proposeConfChange */
  proposeConfChange(cc: ConfChange): { index: number; term: number } {
    return this.raft.proposeConfChange(cc);
  }

  /** Hand leadership to a voter. @see Raft.transferLeader */
  transferLeader(target: NodeId): void {
    this.raft.transferLeader(target);
  }

  /** Request a linearizable read. @see Raft.readIndex */
  readIndex(context: string): void {
    this.raft.readIndex(context);
  }

  /** The transport could not reach a peer. */
  reportUnreachable(id: NodeId): void {
    this.raft.reportUnreachable(id);
  }

  /** A snapshot send to a peer finished or failed. */
  reportSnapshot(id: NodeId, ok: boolean): void {
    this.raft.reportSnapshot(id, ok);
  }

  /** The configuration at a log index (for the snapshot the application takes at its applied index). */
  confAt(index: number): ConfState {
    return this.raft.confAt(index);
  }

  /** Current state, for observation. */
  status(): RaftStatus {
    return this.raft.status();
  }

  /** Whether there is anything to persist, send or apply. */
  hasReady(): boolean {
    const r = this.raft;
    const soft = this.softState();
    return (
      soft.leader !== this.prevSoft.leader ||
      soft.role !== this.prevSoft.role ||
      !sameHardState(r.hardState(), this.prevHard) ||
      r.log.unstable.entries.length > 0 ||
      r.log.unstable.snapshot !== undefined ||
      r.msgs.length > 0 ||
      r.readStates.length > 0 ||
      r.log.hasNextCommittedEntries()
    );
  }

  /**
   * Take the pending work. Must be followed by `advance()` before the next `ready()`.
   * Messages and read states are handed over once: they are not repeated in a later Ready.
   */
  ready(): Ready {
    if (this.pending) throw new RaftUsageError("ready() called again before advance()");
    const r = this.raft;
    const soft = this.softState();
    const hard = r.hardState();
    const rd: Ready = {
      entries: r.log.unstableEntries(),
      committedEntries: r.log.nextCommittedEntries(r.maxCommittedSizePerReady),
      messages: r.msgs,
      readStates: r.readStates,
      ...(soft.leader !== this.prevSoft.leader || soft.role !== this.prevSoft.role
        ? { softState: soft }
        : {}),
      ...(!sameHardState(hard, this.prevHard) ? { hardState: hard } : {}),
      ...(r.log.unstable.snapshot ? { snapshot: r.log.unstable.snapshot } : {}),
    };
    r.msgs = [];
    r.readStates = [];
    this.prevSoft = soft;
    this.pending = rd;
    return rd;
  }

  /** Tell the node that the last Ready has been persisted, sent and applied. */
  advance(): void {
    const rd = this.pending;
    if (!rd) throw new RaftUsageError("advance() called without a ready()");
    this.pending = null;
    const log = this.raft.log;
    if (rd.hardState) this.prevHard = rd.hardState;
    const lastEntry = rd.entries[rd.entries.length - 1];
    if (lastEntry) log.stableTo(lastEntry.index, lastEntry.term);
    if (rd.snapshot) {
      log.stableSnapTo(rd.snapshot.meta.index);
      log.appliedTo(rd.snapshot.meta.index);
    }
    const lastApplied = rd.committedEntries[rd.committedEntries.length - 1];
    if (lastApplied) log.appliedTo(lastApplied.index);
  }
}
