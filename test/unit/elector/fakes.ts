/**
 * In-process fakes for the elector's unit tests (not a test file itself):
 * - {@link FakeNode}: the parts of an ElectorNode the leader roles and the control service
 *   use, over a real CoordinatorState: a proposal is applied at once, as if a quorum had
 *   accepted it, and listeners hear of each committed event before the proposal resolves
 *   (the order ElectorNode keeps);
 * - {@link ManualClock}: a monotonic clock with timers that fire only when the test advances it;
 * - {@link FakeSpawner}: hands out {@link FakeProcess}es the test ends by hand.
 * Waiting is always for something to happen (a promise the fake resolves), never for time.
 */
import { EventEmitter } from "node:events";
import { PassThrough } from "node:stream";
import {
  type ConfChange,
  type ConfState,
  encodeConfChange,
  type NodeId,
  NotLeaderError,
  type PeerStatus,
  type RaftStatus,
} from "../../../raft/index.ts";
import { type Command, encodeCommand, validateCommand } from "../../../src/coordinator/commands.ts";
import type { Event } from "../../../src/contract/events.ts";
import { type ApplyOutcome, CoordinatorState } from "../../../src/coordinator/state-machine.ts";
import { stampEvent, type UnstampedEvent } from "../../../src/elector/event-stamp.ts";
import type { RunnerTimers } from "../../../src/elector/leader/handler-runner.ts";
import type { ProcessSpawner, SpawnedProcess, SpawnRequest } from "../../../src/process/process-spawner.ts";

/** The wall-clock time every event the fakes commit directly is stamped with. */
export const FIXED_TIME = new Date("2030-01-02T03:04:05.678Z");

/** A resolvable promise. */
export function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: Error) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * Resolves once every promise chain already started has run to its end: the fakes commit and
 * resolve through microtasks only, so one turn of the event loop drains them all. Not a
 * sleep: no time passes for anything here, and nothing waits on real time.
 */
export function drained(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** An ElectorNode stand-in: see the module comment. */
export class FakeNode {
  readonly state: CoordinatorState;
  /** Who this node believes leads (null: no leader known). */
  leaderId: NodeId | null;
  term = 2;
  role: RaftStatus["role"] = "leader";
  conf: ConfState;
  /** The leader's view of replication (only shown while `role` is leader). */
  readonly progress = new Map<NodeId, PeerStatus>();
  /** Every event committed, in order. */
  readonly events: Event[] = [];
  /** The timeout of every linearizableBarrier call. */
  readonly barriers: number[] = [];
  /** Every command proposed, in call order (whether or not it committed). */
  readonly proposals: Command[] = [];
  /** Every membership change proposed. */
  readonly confChanges: ConfChange[] = [];
  /** Errors the next proposals reject with, first first (before anything is applied). */
  readonly failNext: Error[] = [];
  private readonly listeners = new Set<(e: Event) => void>();
  private readonly waiters: { match: (e: Event) => boolean; resolve: (e: Event) => void }[] = [];

  constructor(
    readonly id: NodeId = "a",
    private readonly addresses = new Map([
      ["a", "10.0.0.1:7000"],
      ["b", "10.0.0.2:7000"],
      ["c", "10.0.0.3:7000"],
    ]),
  ) {
    this.state = new CoordinatorState(addresses);
    this.leaderId = id;
    this.conf = { voters: [...addresses.keys()].sort(), learners: [] };
  }

  /** Be told of every committed event (before the proposal that made it resolves). */
  onEvent(listener: (e: Event) => void): void {
    this.listeners.add(listener);
  }

  /** The first committed event for which `match` holds: already committed, or when it is. */
  event(match: (e: Event) => boolean): Promise<Event> {
    const done = this.events.find(match);
    if (done) return Promise.resolve(done);
    const d = deferred<Event>();
    this.waiters.push({ match, resolve: d.resolve });
    return d.promise;
  }

  leader(): NodeId | null {
    return this.leaderId;
  }

  addressOf(id: NodeId): string | undefined {
    return this.state.electorAddresses().get(id) ?? this.addresses.get(id);
  }

  status(): RaftStatus {
    return {
      id: this.id,
      term: this.term,
      vote: "",
      role: this.role,
      leader: this.leaderId,
      commit: this.state.applied,
      applied: this.state.applied,
      lastIndex: this.state.applied,
      conf: this.conf,
      leadTransferee: null,
      progress: this.role === "leader" ? this.progress : new Map(),
    };
  }

  /**
   * Record `command` (at once, in {@link proposals}), then commit it a microtask later, as
   * the real node commits after the call returns.
   */
  propose(command: Command): Promise<ApplyOutcome> {
    this.proposals.push(command);
    const err = this.failNext.shift();
    if (err) return Promise.reject(err);
    if (this.leaderId !== this.id) return Promise.reject(new NotLeaderError(this.leaderId));
    const term = this.term;
    return Promise.resolve().then(() => this.commit(command, term));
  }

  /** Commit `command` now, in `term` (as this or an earlier leader would have). */
  commit(command: Command, term = this.term): ApplyOutcome {
    const data = encodeCommand(validateCommand(command));
    const out = this.state.apply({ index: this.state.applied + 1, term, type: "normal", data });
    if (out.kind === "result" && out.result.type === "event") {
      const e = out.result.event;
      this.events.push(e);
      for (const l of this.listeners) l(e);
      for (const w of [...this.waiters]) {
        if (w.match(e)) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(e);
        }
      }
    }
    return out;
  }

  /** Commit an event now, stamped with {@link FIXED_TIME}. */
  commitEvent(fields: UnstampedEvent, term = this.term): Event {
    const out = this.commit({ type: "event", event: stampEvent(fields, () => FIXED_TIME) }, term);
    if (out.kind !== "result" || out.result.type !== "event") throw new Error(`not an event: ${out.kind}`);
    return out.result.event;
  }

  proposeConfChange(cc: ConfChange): Promise<ApplyOutcome> {
    if (this.leaderId !== this.id) return Promise.reject(new NotLeaderError(this.leaderId));
    this.confChanges.push(cc);
    const voters = this.conf.voters.filter((n) => n !== cc.node);
    const learners = this.conf.learners.filter((n) => n !== cc.node);
    if (cc.type === "add-learner") learners.push(cc.node);
    if (cc.type === "promote" || cc.type === "add-voter") voters.push(cc.node);
    this.conf = { voters: voters.sort(), learners: learners.sort() };
    const out = this.state.apply({
      index: this.state.applied + 1,
      term: this.term,
      type: "conf",
      data: encodeConfChange(cc),
    });
    return Promise.resolve(out);
  }

  linearizableBarrier(timeoutMs: number): Promise<void> {
    this.barriers.push(timeoutMs);
    return Promise.resolve();
  }
}

/** A monotonic clock whose timers fire only in {@link advance}, in due order. */
export class ManualClock {
  private nowMs: number;
  private seq = 0;
  private readonly pending = new Map<number, { at: number; fn: () => void }>();
  /** The delay of every timer set, in order. */
  private readonly delays: number[] = [];
  /** Waiters of {@link timerSet}; each returns true once it has resolved. */
  private readonly armWaiters = new Set<() => boolean>();

  constructor(start = 10_000) {
    this.nowMs = start;
  }

  /** The clock, for a `now` option. */
  readonly now = (): number => this.nowMs;

  /** The timer seam of the handler runner, on this clock. */
  readonly timers: RunnerTimers = {
    set: (fn, ms) => {
      const id = ++this.seq;
      this.pending.set(id, { at: this.nowMs + Math.max(0, ms), fn });
      this.delays.push(ms);
      for (const check of [...this.armWaiters]) if (check()) this.armWaiters.delete(check);
      return id;
    },
    clear: (handle) => {
      this.pending.delete(handle as number);
    },
  };

  /** Move the clock `ms` forward, firing every timer that falls due, each at its own time. */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.pending) {
        if (entry[1].at <= target && (next === undefined || entry[1].at < next[1].at)) next = entry;
      }
      if (next === undefined) break;
      this.pending.delete(next[0]);
      this.nowMs = next[1].at;
      next[1].fn();
    }
    this.nowMs = target;
  }

  /**
   * The delay of the `n`th timer ever set (1-based), not counting timers of `ignoreMs` (such as
   * a periodic renewal): at once if it has been, or when it is.
   */
  timerSet(n: number, ignoreMs?: number): Promise<number> {
    const nth = (): number | undefined => this.delays.filter((d) => d !== ignoreMs)[n - 1];
    const ms = nth();
    if (ms !== undefined) return Promise.resolve(ms);
    return new Promise((resolve) => {
      const check = (): boolean => {
        const found = nth();
        if (found !== undefined) resolve(found);
        return found !== undefined;
      };
      this.armWaiters.add(check);
    });
  }

  /** How far ahead each pending timer is due, soonest first. */
  dueIn(): number[] {
    return [...this.pending.values()].map((p) => p.at - this.nowMs).sort((a, b) => a - b);
  }
}

/** A process that runs until the test ends it, or until its group is sent SIGKILL. */
export class FakeProcess extends EventEmitter implements SpawnedProcess {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  /** The control pipe (fd 3), when the request asked for one. */
  readonly control: PassThrough | null;
  /** Lines written to the control pipe, in order. */
  readonly controlLines: string[] = [];
  /** Signals sent to the group (signal 0, the liveness probe, is not recorded). */
  readonly signals: NodeJS.Signals[] = [];
  private exited = false;
  private input = "";
  private readonly inputDone = deferred<string>();

  constructor(
    readonly pid: number,
    readonly request: SpawnRequest,
  ) {
    super();
    this.control = request.controlPipe ? new PassThrough() : null;
    this.control?.setEncoding("utf8");
    this.control?.on("data", (c: string) => this.controlLines.push(...c.split("\n").filter((l) => l !== "")));
    this.stdin.setEncoding("utf8");
    this.stdin.on("data", (c: string) => (this.input += c));
    this.stdin.on("end", () => this.inputDone.resolve(this.input));
  }

  /** What the runner wrote on standard input, once it closed it. */
  stdinText(): Promise<string> {
    return this.inputDone.promise;
  }

  /** End the process: print `output`, exit with `code` or `signal`, then close its pipes. */
  end(code: number | null, signal: NodeJS.Signals | null = null, output = ""): void {
    if (this.exited) return;
    this.exited = true;
    let open = 2;
    const closed = () => {
      if (--open === 0) this.emit("close");
    };
    this.stdout.on("end", closed);
    this.stderr.on("end", closed);
    this.stdout.end(output);
    this.stderr.end();
    this.emit("exit", code, signal);
  }

  signalGroup(signal: NodeJS.Signals | 0): boolean {
    if (signal === 0) return !this.exited;
    this.signals.push(signal);
    if (signal === "SIGKILL") this.end(null, "SIGKILL");
    return !this.exited;
  }
}

/** A spawner of {@link FakeProcess}es; {@link process} waits for the nth one. */
export class FakeSpawner implements ProcessSpawner {
  /** Every process started, in order. */
  readonly started: FakeProcess[] = [];
  private pid = 4000;
  private readonly waiters = new Map<number, (p: FakeProcess) => void>();

  spawn(request: SpawnRequest): SpawnedProcess {
    const p = new FakeProcess(++this.pid, request);
    this.started.push(p);
    this.waiters.get(this.started.length)?.(p);
    this.waiters.delete(this.started.length);
    return p;
  }

  /** The `n`th process started (1-based): at once if it has been, or when it is. */
  process(n: number): Promise<FakeProcess> {
    const p = this.started[n - 1];
    if (p) return Promise.resolve(p);
    return new Promise((resolve) => this.waiters.set(n, resolve));
  }
}
