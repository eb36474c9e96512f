/**
 * The replicated state machine frame: applies committed Raft entries in log order, takes
 * snapshots and restores them. Deterministic: the same entries give the same state on
 * every elector. Sections (kv, the event log, and what is folded from the events: members,
 * handler runs, masters, cluster checks) keep their own data; this class routes commands to
 * them and owns the snapshot.
 *
 * Determinism: nothing here reads a clock, randomness, the file system or local settings; an
 * entry's effect depends only on the entry and the state before it.
 */
import { decodeConfChange, type Entry, type NodeId } from "../../raft/index.ts";
import { CHECKS_PER_MEMBER_MAX, formatBytes, KV_QUOTA_BYTES, MEMBERS_MAX } from "../contract/limits.ts";
import type { EventFields } from "../contract/events.ts";
import { BadCommandError, type Command, type CommandResult, decodeCommand } from "./commands.ts";
import { LimitExceededError, type LimitName } from "./command-limits.ts";
import { EventLog } from "./event-log.ts";
import type { EventLogSnapshot } from "./event-log-snapshot.ts";
import { type HandlerRunRecord, HandlerRunsState } from "./handler-runs-state.ts";
import { type KvEntry, KvStore } from "./kv-store.ts";
import { type MasterRecord, MastersState } from "./masters-state.ts";
import { type MemberSnapshotRecord, MembersState } from "./members-state.ts";
import { type ClusterChecksSnapshot, ClusterChecksState } from "./cluster-checks-state.ts";

/** The outcome of applying one entry. */
export type ApplyOutcome =
  | { readonly kind: "result"; readonly result: CommandResult }
  | { readonly kind: "noop" }
  | { readonly kind: "conf"; readonly electors: ReadonlyMap<NodeId, string> }
  /** The entry's data is not a valid command. Every elector skips it the same way. */
  | { readonly kind: "rejected"; readonly reason: string }
  /**
   * A valid command past a size or count limit (contract/limits.ts): skipped the same way on
   * every elector, the state unchanged. A proposer answers it RESOURCE_EXHAUSTED.
   */
  | { readonly kind: "over-limit"; readonly limit: LimitName; readonly reason: string };

/** The snapshot could not be read (wrong version, not ours, damaged). */
export class BadSnapshotError extends Error {
  override readonly name = "BadSnapshotError";
}

interface SnapshotV1 {
  version: 1;
  index: number;
  electors: [NodeId, string][];
  kv: [string, KvEntry][];
  /** Absent in snapshots taken before the event log existed. */
  events?: EventLogSnapshot;
  /** Members in either shape: see {@link MemberSnapshotRecord}. */
  members?: MemberSnapshotRecord[];
  handlerRuns?: HandlerRunRecord[];
  masters?: MasterRecord[];
  clusterChecks?: ClusterChecksSnapshot;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Conclave's replicated state. */
export class CoordinatorState {
  /** The index of the last applied entry. */
  applied = 0;
  /** The replicated key-value configuration. */
  readonly kv = new KvStore();
  /** The hash-chained audit log of events. */
  readonly events = new EventLog();
  /** The member table, folded from the events. */
  readonly members = new MembersState();
  /** Handler runs, folded from the handler-* events. */
  readonly handlerRuns = new HandlerRunsState();
  /** Each service's master and epoch, folded from master-promoted / master-demoted. */
  readonly masters = new MastersState();
  /** Cluster-wide check definitions, folded from checks-updated. */
  readonly clusterChecks = new ClusterChecksState();
  /** Elector addresses: founders from the config, later ones from membership-change contexts. */
  private readonly electors = new Map<NodeId, string>();

  /** @param founders the founding electors (name -> address) from `cluster.electors`. */
  constructor(founders: ReadonlyMap<NodeId, string> = new Map()) {
    for (const [n, a] of founders) this.electors.set(n, a);
  }

  /** The elector address book as of the applied index. */
  electorAddresses(): ReadonlyMap<NodeId, string> {
    return this.electors;
  }

  /**
   * Apply one committed entry. Invariant: entries arrive in index order without gaps
   * (`entry.index === applied + 1`), which the driver guarantees.
   */
  apply(entry: Entry): ApplyOutcome {
    if (entry.index !== this.applied + 1) {
      throw new Error(`state machine: entry ${entry.index} applied after ${this.applied}`);
    }
    this.applied = entry.index;
    if (entry.type === "conf") {
      // No name or address rule here, only raft's own decoding: raft takes the configuration
      // from a conf entry as soon as it is in the log (raft.ts trackConfEntries) and never asks
      // the state machine, so refusing it here would leave an elector in raft's configuration
      // (and in every snapshot's) that the address book lacks, and the node would skip the
      // peer update of outcome "conf". The rules of conf-change-rules.ts are a gate instead,
      // before raft sees the entry (elector-node.ts: proposals and peer messages).
      let cc;
      try {
        cc = decodeConfChange(entry.data);
      } catch (e) {
        // Raft refuses such data too (it decodes every conf entry it appends): never in a log.
        return { kind: "rejected", reason: (e as Error).message };
      }
      if (cc.type === "remove") this.electors.delete(cc.node);
      else if (cc.context) this.electors.set(cc.node, cc.context);
      return { kind: "conf", electors: this.electors };
    }
    if (entry.data.length === 0) return { kind: "noop" };
    try {
      const cmd = decodeCommand(entry.data);
      this.checkLimits(cmd);
      switch (cmd.type) {
        case "kv-put":
          return {
            kind: "result",
            result: { type: "kv-put", revision: this.kv.put(cmd.key, cmd.value, entry.index) },
          };
        case "kv-delete":
          return {
            kind: "result",
            result: { type: "kv-delete", deleted: this.kv.delete(cmd.key), revision: entry.index },
          };
        case "event": {
          const event = this.events.append({ index: entry.index, term: entry.term, ...cmd.event });
          this.members.apply(event);
          this.handlerRuns.apply(event);
          this.masters.apply(event);
          this.clusterChecks.apply(event);
          return { kind: "result", result: { type: "event", event } };
        }
      }
    } catch (e) {
      if (e instanceof BadCommandError) return { kind: "rejected", reason: e.message };
      if (e instanceof LimitExceededError) return { kind: "over-limit", limit: e.limit, reason: e.message };
      throw e;
    }
  }

  /**
   * The limits that depend on the state: the kv quota, the members cap and the checks of one
   * member. Deterministic: it reads only the state every elector holds at this index.
   * @throws LimitExceededError naming the limit
   */
  checkLimits(cmd: Command): void {
    if (cmd.type === "kv-put") {
      const after = this.kv.bytesAfterPut(cmd.key, cmd.value);
      // A put that does not grow the store is let through past the quota: it frees nothing
      // but costs nothing either, and deletes always pass, so room can always be made.
      if (after > KV_QUOTA_BYTES && after > this.kv.bytes) {
        throw new LimitExceededError(
          "kv-quota",
          `kv quota exceeded: the store would hold ${after} bytes of keys and values; the quota is ${formatBytes(KV_QUOTA_BYTES)} (delete keys to make room)`,
        );
      }
    } else if (cmd.type === "event") this.checkEventCounts(cmd.event);
  }

  /**
   * Why member `name` cannot join now, or null: the members cap counts members that have not
   * left, so one already in the table re-joins freely. Deterministic; the leader's member
   * service asks it before it proposes, so a full cluster refuses the stream instead of
   * proposing a join that every elector would skip.
   */
  joinProblem(name: string): string | null {
    const known = this.members.get(name);
    if ((known && known.status !== "left") || this.members.activeCount < MEMBERS_MAX) return null;
    return `member-joined: the cluster has ${this.members.activeCount} members that have not left; the limit is ${MEMBERS_MAX}`;
  }

  private checkEventCounts(f: EventFields): void {
    if (f.member === null) return;
    if (f.type === "member-joined") {
      const problem = this.joinProblem(f.member);
      if (problem !== null) throw new LimitExceededError("members", problem);
    } else if (f.type === "check-failing" || f.type === "check-passing") {
      const m = this.members.get(f.member);
      const check = f.details.check;
      if (m && typeof check === "string" && !Object.hasOwn(m.checks, check)) {
        if (Object.keys(m.checks).length >= CHECKS_PER_MEMBER_MAX) {
          throw new LimitExceededError(
            "checks-per-member",
            `${f.type}: ${f.member} already has ${CHECKS_PER_MEMBER_MAX} checks, the most a member may have`,
          );
        }
      }
    }
  }

  /** Serialize the whole state at the applied index. */
  snapshot(): Uint8Array {
    const s: SnapshotV1 = {
      version: 1,
      index: this.applied,
      electors: [...this.electors.entries()],
      kv: this.kv.snapshot(),
      events: this.events.snapshot(),
      members: this.members.snapshot(),
      handlerRuns: this.handlerRuns.snapshot(),
      masters: this.masters.snapshot(),
      clusterChecks: this.clusterChecks.snapshot(),
    };
    return encoder.encode(JSON.stringify(s));
  }

  /**
   * Replace the state with a snapshot taken at `index`. Empty data is the founding snapshot
   * (nothing applied yet beyond the founding configuration).
   * @throws BadSnapshotError when the data is not a snapshot of this version.
   */
  restore(index: number, data: Uint8Array): void {
    if (data.length === 0) {
      this.kv.restore([]);
      this.events.clear();
      this.members.restore([]);
      this.handlerRuns.restore([]);
      this.masters.restore([]);
      this.clusterChecks.restore(undefined);
      this.applied = index;
      return;
    }
    let s: SnapshotV1;
    try {
      s = JSON.parse(decoder.decode(data)) as SnapshotV1;
    } catch {
      throw new BadSnapshotError(`snapshot at ${index} is not valid JSON`);
    }
    if (s.version !== 1)
      throw new BadSnapshotError(`snapshot at ${index} has unknown version ${String(s.version)}`);
    if (s.index !== index)
      throw new BadSnapshotError(`snapshot data is for index ${s.index}, metadata says ${index}`);
    this.electors.clear();
    for (const [n, a] of s.electors) this.electors.set(n, a);
    this.kv.restore(s.kv);
    if (s.events) this.events.restore(s.events);
    else this.events.clear();
    this.members.restore(s.members ?? []);
    this.handlerRuns.restore(s.handlerRuns ?? []);
    this.masters.restore(s.masters ?? []);
    this.clusterChecks.restore(s.clusterChecks);
    this.applied = index;
  }
}
