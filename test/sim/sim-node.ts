/**
 * One simulated Raft node: its "disk" (a MemoryStorage that survives crashes), its live
 * RawNode (gone while crashed), and a toy state machine whose state is a digest of every
 * entry applied. It runs the Ready cycle exactly as a real node must: persist snapshot,
 * entries and hard state; then send; then apply; then advance.
 */
import {
  applyConfChange,
  type ConfState,
  decodeConfChange,
  type HardState,
  MemoryStorage,
  type Message,
  type NodeId,
  type RaftOptions,
  RawNode,
  SeededRng,
} from "../../raft/index.ts";
import { digest, entryKey, type Oracle } from "./oracle.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The state machine's snapshot: the applied index and the digest of everything up to it. */
interface SmState {
  index: number;
  digest: number;
}

/** Raft tuning used for every simulated node: small messages and windows exercise flow control. */
export const SIM_RAFT: Pick<
  RaftOptions,
  "electionTick" | "heartbeatTick" | "maxSizePerMsg" | "maxInflightMsgs"
> = {
  electionTick: 10,
  heartbeatTick: 2,
  maxSizePerMsg: 64,
  maxInflightMsgs: 4,
};

/** What a Ready handed to the simulation besides persistence. */
export interface ReadyOutcome {
  messages: readonly Message[];
  readStates: readonly { index: number; context: string }[];
  appliedData: string[];
  /** Set when the node's role or known leader changed. */
  became?: string;
}

/** A simulated node. */
export class SimNode {
  readonly disk: MemoryStorage;
  raw: RawNode | null = null;
  private sm: SmState = { index: 0, digest: 0 };
  private lifeCommit = 0;
  private lives = 0;

  /** @param founders the founding configuration, or undefined for a node that joins later (empty disk). */
  constructor(
    readonly id: NodeId,
    founders: ConfState | undefined,
    private readonly seed: number,
  ) {
    this.disk = new MemoryStorage(founders ? { conf: founders } : {});
  }

  /** Start (or restart) from what is on disk. */
  start(): void {
    this.lives++;
    const snap = this.disk.snapshot();
    this.sm =
      snap.data.length > 0
        ? (JSON.parse(decoder.decode(snap.data)) as SmState)
        : { index: snap.meta.index, digest: 0 };
    this.raw = new RawNode({
      id: this.id,
      storage: this.disk,
      rng: new SeededRng(this.seed * 7919 + this.lives),
      ...SIM_RAFT,
    });
    this.lifeCommit = this.disk.hardState().commit;
  }

  /** Crash: everything not persisted through a Ready is lost. */
  crash(): void {
    this.raw = null;
  }

  get alive(): boolean {
    return this.raw !== null;
  }

  /** The state machine's applied index. */
  get applied(): number {
    return this.sm.index;
  }

  /** Take a snapshot at the applied index and compact the log behind it. */
  compact(): boolean {
    if (!this.raw || this.sm.index <= this.disk.firstIndex() - 1) return false;
    const conf = this.raw.confAt(this.sm.index);
    this.disk.createSnapshot(this.sm.index, conf, encoder.encode(JSON.stringify(this.sm)));
    return true;
  }

  private termAt(i: number): number | undefined {
    try {
      return this.disk.term(i);
    } catch {
      return undefined;
    }
  }

  /**
   * Run one Ready through persistence and application, reporting everything to the oracle.
   * With `crashAfterPersist`, the node dies right after persisting: nothing is sent or applied.
   */
  processReady(oracle: Oracle, crashAfterPersist = false): ReadyOutcome | null {
    const raw = this.raw;
    if (!raw?.hasReady()) return null;
    const rd = raw.ready();

    // 1. Persist: snapshot, entries, hard state.
    if (rd.snapshot) this.disk.applySnapshot(rd.snapshot);
    this.disk.append(rd.entries);
    for (let k = 0; k < rd.entries.length; k++) {
      const e = rd.entries[k]!;
      const prevTerm = k > 0 ? rd.entries[k - 1]!.term : this.termAt(e.index - 1);
      oracle.persisted(this.id, e, prevTerm);
      if (e.type === "conf") {
        const before = raw.confAt(e.index - 1);
        oracle.confChange(this.id, e.index, before, applyConfChange(before, decodeConfChange(e.data)));
      }
    }
    if (rd.hardState) {
      const before: HardState = this.disk.hardState();
      oracle.hardState(this.id, before, rd.hardState);
      this.disk.setHardState(rd.hardState);
      const status = raw.status();
      if (rd.hardState.commit < this.lifeCommit) {
        throw new Error(`${this.id}: commit went back from ${this.lifeCommit} to ${rd.hardState.commit}`);
      }
      for (let i = this.lifeCommit + 1; i <= rd.hardState.commit; i++) {
        const t = this.termAt(i);
        if (t !== undefined) oracle.commit(this.id, i, t, status.term);
      }
      this.lifeCommit = rd.hardState.commit;
    }
    if (rd.softState?.role === "leader") {
      oracle.leader(this.id, raw.status().term, (i) => this.termAt(i), this.disk.firstIndex());
    }
    if (crashAfterPersist) {
      this.crash();
      return null;
    }

    // 2. Send (the caller queues the messages). 3. Apply.
    const appliedData: string[] = [];
    if (rd.snapshot) {
      const s: SmState =
        rd.snapshot.data.length > 0
          ? (JSON.parse(decoder.decode(rd.snapshot.data)) as SmState)
          : { index: rd.snapshot.meta.index, digest: 0 };
      oracle.restore(this.id, rd.snapshot.meta.index, s.digest);
      this.sm = s;
    }
    for (const e of rd.committedEntries) {
      if (e.index !== this.sm.index + 1) {
        throw new Error(`${this.id}: applied ${e.index} after ${this.sm.index} (a gap or a step back)`);
      }
      const key = `${e.term}:${entryKey(e)}`;
      this.sm = { index: e.index, digest: digest(this.sm.digest, key) };
      oracle.apply(this.id, e, this.sm.digest);
      if (e.type === "normal" && e.data.length > 0) appliedData.push(decoder.decode(e.data));
    }
    raw.advance();
    const became = rd.softState ? `${rd.softState.role} in term ${raw.status().term}` : undefined;
    return { messages: rd.messages, readStates: rd.readStates, appliedData, ...(became ? { became } : {}) };
  }
}
