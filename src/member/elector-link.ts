/**
 * The member agent's link to the electors (proto/member.proto): one bidirectional stream
 * to the leader. It registers (name, address, services, checks), then sends a heartbeat
 * every `heartbeatMs`. An elector that is not the leader answers with a redirect; a broken
 * stream moves the agent to the next elector after a backoff. `stop({ leave: true })` says
 * goodbye so the leader records `member-left` instead of waiting for `member-down`.
 *
 * Kept small on purpose (it runs on every server): no storage, no Raft, one channel at a time.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "pino";
import { tokenMetadata } from "../rpc/grpc-auth.ts";
import { createClientCredentials, serverNameOptions, type TlsSource } from "../rpc/grpc-credentials.ts";
import { createChannelOptions } from "../rpc/channel-options.ts";
import { memberServiceDefinition } from "../rpc/service-definitions.ts";
import type { CheckState } from "../contract/check-state.ts";
import { type CheckRefusals, refusalsToWire } from "../contract/check-refusals.ts";
import { observeReportRtt, secondsBetween } from "../status/latency.ts";

/** Options of {@link MemberAgent}. */
export interface MemberAgentOptions {
  name: string;
  /** How others reach this member (`advertise`). */
  address: string;
  /** Elector addresses to try, from `cluster.electors`. */
  electors: readonly string[];
  token: string;
  tls?: TlsSource;
  heartbeatMs: number;
  services?: readonly string[];
  /** The current state of every check (sent with each registration). */
  checkStates?: () => Readonly<Record<string, string>>;
  /** Where each service stands (sent with each registration and heartbeat). */
  roles?: () => readonly { service: string; state: string; epoch: number }[];
  /** The version of the cluster-wide checks this member runs. */
  checksVersion?: () => number;
  /** The cluster-wide checks of that version it refuses (sent with each registration). */
  refusals?: () => CheckRefusals;
  /** The leader sent newer cluster-wide check definitions (a JSON array). */
  onChecks?: (version: number, checksJson: string) => void;
  /** An acknowledgement arrived: the services this member is master of, and its lease. */
  onGrants?: (g: { masters: Map<string, number>; sentAt: number; leaseMs: number }) => void;
  logger: Logger;
  /** Clock and timer seam for tests. */
  random?: () => number;
}

/** What the member agent knows of its link, for status output and tests. */
export interface MemberLinkState {
  connectedTo: string | null;
  leader: string | null;
  heartbeatsAcked: number;
}

interface Reply {
  ack?: {
    seq: number;
    leader: string;
    leaderAddress: string;
    masters?: { service: string; epoch: number }[];
    leaseMs?: number;
    checks?: { version: number; checksJson: string } | null;
  };
  redirect?: { leader: string; leaderAddress: string };
}

type Duplex = grpc.ClientDuplexStream<object, Reply>;

let clientConstructor: grpc.ServiceClientConstructor | undefined;

/** One member's link to the cluster. */
export class MemberAgent {
  private stopped = false;
  private stream: Duplex | null = null;
  /** When the current stream started or last brought an acknowledgement (monotonic ms). */
  private lastAckAt = 0;
  /** Ends the current stream as failed (set per stream). */
  private abandon: ((why: string) => void) | null = null;
  private client: grpc.Client | null = null;
  private timer: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private next = 0;
  private preferred: string | null = null;
  private backoffMs: number;
  private seq = 0;
  /** When each unacknowledged report was sent (monotonic ms), by seq; 0 is the registration. */
  private readonly sentAt = new Map<number, number>();
  readonly state: MemberLinkState = { connectedTo: null, leader: null, heartbeatsAcked: 0 };

  constructor(private readonly o: MemberAgentOptions) {
    if (o.electors.length === 0) throw new Error("a member needs at least one elector address");
    this.backoffMs = this.minBackoff;
  }

  /**
   * Reconnect delays stay within one heartbeat interval: after a leader failover the new
   * leader allows `member_timeout` for members to reconnect, and a member that backed off
   * for seconds would be declared down although it is healthy.
   */
  private get maxBackoff(): number {
    return Math.max(100, this.o.heartbeatMs);
  }

  /**
   * Silence after which a stream is abandoned: four heartbeats, at least one second. Short
   * enough that a member reaches a new leader within the grace period that leader gives it
   * (`member_timeout` from when it takes over).
   */
  private get ackTimeoutMs(): number {
    return Math.max(1000, 4 * this.o.heartbeatMs);
  }

  private get minBackoff(): number {
    return Math.min(50, this.maxBackoff);
  }

  /** Connect and keep connected until `stop()`. */
  start(): void {
    this.connect();
  }

  /** The elector to try next: the leader we were redirected to, else the next in the list. */
  private pickAddress(): string {
    if (this.preferred) {
      const p = this.preferred;
      this.preferred = null;
      return p;
    }
    const a = this.o.electors[this.next % this.o.electors.length]!;
    this.next++;
    return a;
  }

  private connect(): void {
    if (this.stopped) return;
    const addr = this.pickAddress();
    clientConstructor ??= grpc.makeGenericClientConstructor(memberServiceDefinition(), "MemberReports");
    this.client?.close();
    this.client = new clientConstructor(addr, createClientCredentials(this.o.tls, { address: addr }), {
      ...createChannelOptions(),
      ...serverNameOptions(addr, this.o.tls),
    });
    const report = (this.client as unknown as Record<string, (md: grpc.Metadata) => Duplex>).Report!;
    const stream = report.call(this.client, tokenMetadata(this.o.token));
    this.stream = stream;
    let ended = false;
    /**
     * `retryNow`: the elector answered (a redirect, or it ended the stream on purpose
     * because leadership moved): reconnect at once (to the leader, or to the same elector,
     * which will redirect). Otherwise it is a failure: back off and try the next elector.
     */
    const end = (why: string, retryNow: boolean) => {
      if (ended) return;
      ended = true;
      clearInterval(this.timer);
      this.state.connectedTo = null;
      if (this.stream === stream) this.stream = null;
      stream.removeAllListeners("data");
      stream.on("error", () => {});
      stream.cancel();
      if (this.stopped) return;
      const delay = retryNow ? 10 : this.backoffMs * (0.5 + (this.o.random ?? Math.random)());
      if (retryNow) this.backoffMs = this.minBackoff;
      else this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoff);
      this.o.logger.debug({ elector: addr, why, delayMs: Math.round(delay) }, "member stream ended");
      this.retry = setTimeout(() => this.connect(), delay);
    };
    stream.on("data", (r: Reply) => {
      if (r.redirect) {
        this.state.leader = r.redirect.leader || null;
        if (r.redirect.leaderAddress) this.preferred = r.redirect.leaderAddress;
        end(`redirected to ${r.redirect.leader || "no leader"}`, r.redirect.leaderAddress !== "");
        return;
      }
      if (r.ack) {
        this.lastAckAt = performance.now();
        this.backoffMs = this.minBackoff;
        this.state.connectedTo = addr;
        this.state.leader = r.ack.leader || this.state.leader;
        this.state.heartbeatsAcked++;
        const sentAt = this.sentAt.get(r.ack.seq);
        if (sentAt !== undefined) observeReportRtt(secondsBetween(sentAt, this.lastAckAt));
        // Older reports can no longer be acknowledged on this stream: forget them.
        for (const k of this.sentAt.keys()) if (k <= r.ack.seq) this.sentAt.delete(k);
        if (r.ack.checks && r.ack.checks.version > 0)
          this.o.onChecks?.(r.ack.checks.version, r.ack.checks.checksJson);
        if (sentAt !== undefined && (r.ack.leaseMs ?? 0) > 0) {
          this.o.onGrants?.({
            masters: new Map((r.ack.masters ?? []).map((m) => [m.service, m.epoch])),
            sentAt,
            leaseMs: r.ack.leaseMs ?? 0,
          });
        }
      }
    });
    stream.on("error", (e: grpc.ServiceError) => {
      if (e.code === grpc.status.UNAUTHENTICATED) {
        this.o.logger.error(
          { elector: addr },
          "the elector refused this member: missing or wrong cluster token",
        );
      }
      end(e.details || e.message, false);
    });
    stream.on("end", () => {
      // grpc-js also emits "end" after "error": only a clean end is the elector's choice.
      if (ended) return;
      // Ended on purpose by the elector (leadership moved): ask the same elector again.
      this.preferred ??= addr;
      end("stream closed by the elector", true);
    });
    this.sentAt.clear();
    this.sentAt.set(0, performance.now());
    stream.write({
      register: {
        name: this.o.name,
        address: this.o.address,
        services: [...(this.o.services ?? [])],
        checks: { ...(this.o.checkStates?.() ?? {}) },
        checksVersion: this.o.checksVersion?.() ?? 0,
        roles: [...(this.o.roles?.() ?? [])],
        ...(this.o.refusals ? { refused: refusalsToWire(this.o.refusals()) } : {}),
      },
    });
    this.lastAckAt = performance.now();
    this.abandon = (why) => end(why, false);
    this.timer = setInterval(() => this.heartbeat(), this.o.heartbeatMs);
  }

  /** Send a heartbeat now (also used to report a role change without waiting). */
  heartbeat(): void {
    const stream = this.stream;
    if (!stream) return;
    // A stream to an elector that vanished without a reset (cut off, powered down) stays
    // open for minutes as far as TCP knows: no acknowledgement for a while means move on.
    const silentMs = performance.now() - this.lastAckAt;
    if (silentMs > this.ackTimeoutMs) {
      this.abandon?.(`no acknowledgement for ${Math.round(silentMs)} ms`);
      return;
    }
    const seq = ++this.seq;
    this.sentAt.set(seq, performance.now());
    stream.write({
      heartbeat: {
        seq,
        checksVersion: this.o.checksVersion?.() ?? 0,
        roles: [...(this.o.roles?.() ?? [])],
      },
    });
  }

  /** Report a check that crossed its threshold (dropped when not connected: the next registration carries it). */
  reportCheck(name: string, state: CheckState, detail: string): void {
    this.stream?.write({ check: { name, state, detail } });
  }

  /**
   * Report the cluster-wide checks this member refuses now (after it applied a new set).
   * Dropped when not connected: the next registration carries them.
   */
  reportRefusals(): void {
    if (this.o.refusals) this.stream?.write({ refused: refusalsToWire(this.o.refusals()) });
  }

  /**
   * Stop. With `leave`, tell the leader first (it records member-left) and wait briefly for
   * the stream to close; otherwise just disconnect (the leader will see member-down).
   */
  async stop(options: { leave: boolean }): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    clearTimeout(this.retry);
    const stream = this.stream;
    if (stream && options.leave) {
      await new Promise<void>((resolve) => {
        const done = setTimeout(resolve, 1000);
        stream.once("end", () => {
          clearTimeout(done);
          resolve();
        });
        stream.once("error", () => {
          clearTimeout(done);
          resolve();
        });
        stream.write({ leave: {} });
        stream.end();
      });
    }
    stream?.cancel();
    this.client?.close();
  }
}
