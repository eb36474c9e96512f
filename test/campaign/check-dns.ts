/**
 * Checker 3, DNS tells the truth, over what `dig` answered (samples every ~150 ms through the
 * round, from BIND9 in its own namespace) and what the nemesis did. Pure: no I/O.
 *
 * **What "failing" means here.** The truth is the nemesis's, not the committed view's: a
 * member's server is *bad* while the nemesis keeps its application answering 503 (the check
 * server's transitions) or keeps its agent from running (kill -9 until the restart, SIGTERM
 * until the restart, SIGSTOP until SIGCONT). Network faults (partitions, one-way drops, a member
 * cut from the leader, delay and loss) do *not* make a server bad: the server is fine, only the
 * cluster's view of it lags or is lost, so whether DNS lists it meanwhile is not judged by (b).
 * The committed view may lag the truth during a partition (a leader in the minority cannot
 * commit, the majority needs an election and the members must find the new leader), so the
 * bound B covers: `fall` probes, a failover (election timeout, the members' reconnection), the
 * commit, a DNS run in progress under `mode: latest` and the next one, and the new leader's
 * re-run wait after a leader stopped during a run. With one process or network fault at a time
 * a quorum that reaches BIND always exists, so the bound is claimed for the whole round.
 *
 * - (b) **during faults**: a sample listing a member whose server had been bad continuously from
 *   B before the query was sent until the answer came back is a violation.
 * - (a) **after the heal**: from some sample on, every answer equals the set of members whose
 *   server is not bad (after the heal: all of them), within `settleMs` of the heal. The time from
 *   the heal to the first sample of that stable suffix is the measured convergence.
 *
 * Also measured: for each bad stretch that began while DNS listed the member, the time from its
 * start to the first answer that no longer lists it (when that came before the stretch ended).
 */
import type { FaultWindow } from "./check-member-down.ts";
import type { AppTransition } from "./check-server.ts";
import type { CheckerVerdict, Violation } from "./verdict.ts";

/** One `dig` of the name: sent at `sentAt`, answered at `at` (CLOCK_MONOTONIC ns). */
export interface DnsSample {
  readonly sentAt: bigint;
  readonly at: bigint;
  /** The A records, or null when dig failed (timeout, no answer). */
  readonly addrs: readonly string[] | null;
}

/** What {@link checkDns} needs. */
export interface DnsInput {
  readonly members: readonly string[];
  /** Member → the address its A record carries. */
  readonly addressOf: Readonly<Record<string, string>>;
  readonly samples: readonly DnsSample[];
  readonly transitions: readonly AppTransition[];
  /** The nemesis's process faults (kill, stop, pause); windows of other nodes are ignored. */
  readonly faults: readonly FaultWindow[];
  /** When every fault had healed (ns). */
  readonly healedAt: bigint;
  /** The bound B of (b), ms. */
  readonly boundMs: number;
  /** The bound of (a), from the heal, ms. */
  readonly settleMs: number;
}

/** The verdict and the figures measured. */
export interface DnsResult {
  readonly verdict: CheckerVerdict;
  /** Heal → the stable suffix (ms), or null when the records never settled. */
  readonly convergeMs: number | null;
  /** Each bad stretch's start → the first answer without the member (ms). */
  readonly removalMs: number[];
}

type Span = { from: bigint; to: bigint | null };

const MS = 1_000_000n;
const ms = (ns: bigint) => Number(ns / 1000n) / 1000;

/** The member's bad stretches, merged, in order (`to: null`: still bad at the end). */
export function badSpans(
  member: string,
  transitions: readonly AppTransition[],
  faults: readonly FaultWindow[],
): Span[] {
  const raw: Span[] = [];
  let open: bigint | null = null;
  for (const t of transitions) {
    if (t.member !== member) continue;
    if (t.failing && open === null) open = t.at;
    else if (!t.failing && open !== null) {
      raw.push({ from: open, to: t.at });
      open = null;
    }
  }
  if (open !== null) raw.push({ from: open, to: null });
  for (const f of faults) if (f.node === member) raw.push({ from: f.from, to: f.to });
  raw.sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  const out: Span[] = [];
  for (const s of raw) {
    const last = out.at(-1);
    if (last && (last.to === null || s.from <= last.to)) {
      if (last.to !== null && (s.to === null || s.to > last.to)) last.to = s.to;
    } else out.push({ ...s });
  }
  return out;
}

const covers = (s: Span, from: bigint, to: bigint) => s.from <= from && (s.to === null || s.to >= to);
const badAt = (spans: readonly Span[], t: bigint) => spans.some((s) => covers(s, t, t));

/** Judge the samples. */
export function checkDns(i: DnsInput): DnsResult {
  const violations: Violation[] = [];
  const bound = BigInt(i.boundMs) * MS;
  const spans = new Map(i.members.map((m) => [m, badSpans(m, i.transitions, i.faults)]));
  const memberOf = new Map(Object.entries(i.addressOf).map(([m, a]) => [a, m]));
  const answered = i.samples.filter((s) => s.addrs !== null);
  const name = (a: string) => memberOf.get(a) ?? `unknown ${a}`;
  const show = (s: DnsSample) =>
    `dig sent ${ms(s.sentAt)} ms, answered ${ms(s.at)} ms: [${(s.addrs ?? []).map(name).join(", ")}]`;

  // (b) a member bad for longer than B is never listed.
  for (const s of answered) {
    for (const a of s.addrs!) {
      const m = memberOf.get(a);
      if (m === undefined) {
        violations.push({ what: `DNS lists ${a}, which is no member's address`, evidence: [show(s)] });
        continue;
      }
      const span = spans.get(m)!.find((x) => covers(x, s.sentAt - bound, s.at));
      if (span)
        violations.push({
          what: `DNS listed ${m} while its server had been bad for ${ms(s.sentAt - span.from)} ms (bound ${i.boundMs} ms)`,
          evidence: [
            show(s),
            `${m} bad from ${ms(span.from)} ms to ${span.to === null ? "the end" : `${ms(span.to)} ms`}`,
          ],
        });
    }
  }

  // Removal latency of each bad stretch.
  const removalMs: number[] = [];
  let outlasted = 0; // bad stretches that ended before any answer dropped the member
  for (const m of i.members) {
    const addr = i.addressOf[m]!;
    for (const sp of spans.get(m)!) {
      // Only stretches that began while DNS listed the member (not one still absent from a
      // previous stretch, or not yet listed again after a restart).
      const before = answered.filter((s) => s.at < sp.from).at(-1);
      if (!before?.addrs!.includes(addr)) continue;
      const gone = answered.find((s) => s.sentAt >= sp.from && !s.addrs!.includes(addr));
      if (gone && (sp.to === null || gone.at <= sp.to)) removalMs.push(Math.round(ms(gone.at - sp.from)));
      else if (sp.to !== null && answered.some((x) => x.sentAt >= sp.from && x.at <= sp.to!)) outlasted++;
    }
  }

  // (a) after the heal the records settle on the members that are not bad.
  const after = answered.filter((s) => s.sentAt >= i.healedAt);
  const expected = (t: bigint) =>
    i.members
      .filter((m) => !badAt(spans.get(m)!, t))
      .map((m) => i.addressOf[m]!)
      .sort();
  const equal = (s: DnsSample) => JSON.stringify([...s.addrs!].sort()) === JSON.stringify(expected(s.at));
  let start = after.length;
  while (start > 0 && equal(after[start - 1]!)) start--;
  let convergeMs: number | null = null;
  if (after.length === 0) {
    violations.push({ what: "no DNS answer after the heal: the records could not be judged", evidence: [] });
  } else if (start === after.length) {
    const last = after.at(-1)!;
    violations.push({
      what: `after the heal the records never equalled the members up with passing checks (${ms(last.at - i.healedAt)} ms sampled)`,
      evidence: [show(last), `expected [${expected(last.at).map(name).join(", ")}]`],
    });
  } else {
    const first = after[start]!;
    convergeMs = Math.max(0, Math.round(ms(first.at - i.healedAt)));
    if (convergeMs > i.settleMs) {
      const before = after[start - 1];
      violations.push({
        what: `after the heal the records took ${convergeMs} ms to equal the members up with passing checks (bound ${i.settleMs} ms)`,
        evidence: [
          ...(before ? [show(before), `expected [${expected(before.at).map(name).join(", ")}]`] : []),
          show(first),
        ],
      });
    }
  }
  const notes: string[] = [];
  const failed = i.samples.length - answered.length;
  if (failed > 0) notes.push(`${failed} of ${i.samples.length} dig queries got no answer`);
  if (outlasted > 0)
    notes.push(
      `${outlasted} failure(s) ended before DNS dropped the server (shorter than the removal time; not measured)`,
    );
  return {
    verdict: { checker: "dns", count: answered.length, violations, notes },
    convergeMs,
    removalMs,
  };
}
