/**
 * Checker 5, no lost and no phantom member-down, over what the nemesis did (its fault windows,
 * on the campaign's CLOCK_MONOTONIC) and the committed log (event times are the proposer's
 * wall clock, mapped onto the monotonic clock with the offset measured at the round's start;
 * every process runs on this one machine). Conservative both ways:
 *
 * - **lost**: a member the nemesis kept silent (kill -9 until its restart, SIGSTOP until
 *   SIGCONT) while it was `up`, for longer than `member_timeout` + margin within one stretch
 *   that had one undisturbed leader (no leader-elected in it, no elector under a fault), must
 *   have a `member-down` committed between the silence's start and its end + grace;
 * - **phantom**: a `member-down` whose member had no fault of its own in the `member_timeout`
 *   + margin before it (its restart window stretched by the time an agent takes to start and
 *   register), while no elector was under a fault and no leader was elected in that stretch,
 *   means a member that kept reporting to a reachable leader was declared down.
 *
 * Pure: no I/O.
 */
import type { CampaignEvent } from "./campaign-event.ts";
import type { CheckerVerdict, Violation } from "./verdict.ts";

/** One fault the nemesis put on a node: silent (or paused) from `from` to `to` (ns). */
export interface FaultWindow {
  readonly node: string;
  readonly role: "elector" | "member";
  /** kill: kill -9, restarted at `to`; pause: SIGSTOP, SIGCONT at `to`; stop: SIGTERM, restarted at `to`. */
  readonly kind: "kill" | "pause" | "stop";
  readonly from: bigint;
  /** null: never healed (the round ended first; the checker treats it as open). */
  readonly to: bigint | null;
}

/** What {@link checkMemberDown} needs. */
export interface MemberDownInput {
  readonly members: readonly string[];
  readonly faults: readonly FaultWindow[];
  readonly events: readonly CampaignEvent[];
  /** CLOCK_MONOTONIC ns of an event time: `Date.parse(time) * 1e6 - offsetNs`. */
  readonly offsetNs: bigint;
  readonly memberTimeoutMs: number;
  /** Slack for scheduling, clocks and the leader's report loop (default 1000 ms). */
  readonly marginMs?: number;
  /** How long after its restart a killed agent may still be silent (start-up, default 10 s). */
  readonly restartGraceMs?: number;
  /** How long after its heal an elector's fault may still disturb the leader (default 3 s). */
  readonly electorGraceMs?: number;
  /** How long after the silence ends a member-down may still be committed (default 3 s). */
  readonly downGraceMs?: number;
}

const MS = 1_000_000n;

/** Checker 5: see the file's comment. */
export function checkMemberDown(input: MemberDownInput): CheckerVerdict {
  const violations: Violation[] = [];
  const margin = BigInt(input.marginMs ?? 1000) * MS;
  const timeout = BigInt(input.memberTimeoutMs) * MS;
  const restartGrace = BigInt(input.restartGraceMs ?? 10_000) * MS;
  const electorGrace = BigInt(input.electorGraceMs ?? 3000) * MS;
  const downGrace = BigInt(input.downGraceMs ?? 3000) * MS;
  const FAR = 1n << 62n;
  const at = (e: CampaignEvent): bigint => BigInt(Date.parse(e.time)) * MS - input.offsetNs;
  const elections = input.events.filter((e) => e.type === "leader-elected").map(at);
  const electorFaults = input.faults
    .filter((f) => f.role === "elector")
    .map((f) => [f.from, (f.to ?? FAR) + electorGrace] as const);
  const showFault = (f: FaultWindow) => `${f.kind} ${f.node} from ${f.from} to ${f.to ?? "never"}`;
  let judged = 0;

  /** The member's committed status just before `t`, from the log (null: not known yet). */
  const statusAt = (member: string, t: bigint): string | null => {
    let s: string | null = null;
    for (const e of input.events) {
      if (e.member !== member || at(e) > t) continue;
      if (e.type === "member-joined" || e.type === "member-up") s = "up";
      else if (e.type === "member-down") s = "down";
      else if (e.type === "member-left") s = "left";
    }
    return s;
  };

  /** The longest stretch of [from, to] with no election in it and no elector under a fault. */
  const longestCalm = (from: bigint, to: bigint): bigint => {
    // Cut points: elections; removed stretches: elector faults.
    let pieces: [bigint, bigint][] = [[from, to]];
    for (const [a, b] of electorFaults) {
      pieces = pieces.flatMap(([x, y]): [bigint, bigint][] => {
        if (b <= x || a >= y) return [[x, y]];
        const out: [bigint, bigint][] = [];
        if (a > x) out.push([x, a]);
        if (b < y) out.push([b, y]);
        return out;
      });
    }
    for (const t of elections) {
      pieces = pieces.flatMap(([x, y]): [bigint, bigint][] =>
        t > x && t < y
          ? [
              [x, t],
              [t, y],
            ]
          : [[x, y]],
      );
    }
    return pieces.reduce((m, [x, y]) => (y - x > m ? y - x : m), 0n);
  };

  // Lost: a long silence with a calm leader has its member-down.
  for (const f of input.faults) {
    if (f.role !== "member" || f.kind === "stop" || f.to === null) continue;
    const to = f.to;
    if (longestCalm(f.from, to) < timeout + margin) continue;
    if (statusAt(f.node, f.from) !== "up") continue;
    judged++;
    const down = input.events.find(
      (e) => e.type === "member-down" && e.member === f.node && at(e) >= f.from && at(e) <= to + downGrace,
    );
    if (!down) {
      violations.push({
        what: `lost member-down: ${f.node} was silent ${(to - f.from) / MS} ms (member_timeout ${input.memberTimeoutMs} ms) and never declared down`,
        evidence: [
          showFault(f),
          ...input.events
            .filter((e) => e.member === f.node || e.type === "leader-elected")
            .map((e) => `event ${e.id} ${e.type} ${e.member ?? ""} at ${at(e)} ${JSON.stringify(e.details)}`),
        ],
      });
    }
  }

  // Phantom: a member-down with no excuse.
  for (const d of input.events) {
    if (d.type !== "member-down" || d.member === null) continue;
    judged++;
    const t = at(d);
    const lo = t - timeout - margin;
    const own = input.faults.some((f) => {
      if (f.node !== d.member) return false;
      const end = (f.to ?? FAR) + (f.kind === "pause" ? margin : restartGrace);
      return f.from <= t && end >= lo;
    });
    const electorTrouble = electorFaults.some(([a, b]) => a <= t && b >= lo);
    const election = elections.some((e) => e >= lo && e <= t);
    if (own || electorTrouble || election) continue;
    violations.push({
      what: `phantom member-down: ${d.member} (event ${d.id}) had no fault of its own and the leader was undisturbed`,
      evidence: [
        `event ${d.id} ${d.type} ${d.member} at ${t} ${JSON.stringify(d.details)}`,
        ...input.faults.filter((f) => f.node === d.member).map(showFault),
      ],
    });
  }
  return { checker: "member-down", count: judged, violations };
}
