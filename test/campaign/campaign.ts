/**
 * The campaign (issue 13): rounds of round.ts, one output line per round (its faults, then the
 * count per checker), a totals table, the convergence and failover times, and on a violation
 * the seed, the evidence and the command that replays it.
 */
import { netnsUnavailable } from "../support/netns-lab.ts";
import { roundSeed } from "./prng.ts";
import { NETNS_FAULTS, type NetnsFault, PROCESS_FAULTS, type ProcessFault } from "./nemesis-plan.ts";
import { DNS_BOUND_MS, DNS_SETTLE_MS, type RoundResult, runRound } from "./round.ts";
import { CHECKER_UNITS, CHECKERS, type CheckerName, OPTIONAL_CHECKERS } from "./verdict.ts";
import { bindUnavailable } from "./netns-round.ts";

/** Options of {@link runCampaign}. */
export interface CampaignOptions {
  readonly rounds: number;
  readonly seed: number;
  /** The fault kinds asked for (process-level and netns ones). */
  readonly faults: readonly (ProcessFault | NetnsFault)[];
  readonly roundSeconds: number;
  /** Where each output line goes (stdout by default). */
  readonly print?: (line: string) => void;
  readonly keepDir?: string;
  /**
   * Run the rounds in network namespaces, with the netns faults, BIND9 and the DNS checker,
   * when this machine can (root, iproute2, BIND9); off by default (the CLI turns it on as root
   * unless --no-netns).
   */
  readonly netns?: boolean;
}

/** What the campaign found. */
export interface CampaignResult {
  readonly rounds: RoundResult[];
  readonly totals: Record<CheckerName, { count: number; violations: number }>;
  readonly violations: number;
  /** The fault kinds asked for that this version did not run, with why. */
  readonly skipped: { fault: string; why: string }[];
}

/** Why the netns faults do not run here (null: they can and were asked for). */
export function netnsSkipReason(requested = false): string | null {
  const why = netnsUnavailable() ?? bindUnavailable();
  if (why !== null) return why;
  return requested
    ? null
    : "network namespaces are available here, but this run did not ask for them (runCampaign({ netns: true }); the CLI does as root unless --no-netns)";
}

/** Netns fault kinds not implemented yet, with why. */
const NOT_YET: Partial<Record<NetnsFault, string>> = {
  "disk-full": "not implemented yet (an elector's data dir on a small loop-mounted filesystem)",
};

function pct(xs: readonly number[], p: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

function times(xs: readonly number[]): string {
  if (xs.length === 0) return "none measured";
  return `p50 ${pct(xs, 50)} ms, p99 ${pct(xs, 99)} ms, max ${Math.max(...xs)} ms (n=${xs.length})`;
}

/** The command that replays one round. */
export function replayCommand(seed: number, faults: readonly string[], roundSeconds: number): string {
  return `npm run campaign -- --rounds 1 --seed ${seed} --faults ${faults.join(",")} --round-seconds ${roundSeconds}`;
}

/** Run the campaign. */
export async function runCampaign(o: CampaignOptions): Promise<CampaignResult> {
  const print = o.print ?? ((l: string) => console.log(l));
  const processFaults = o.faults.filter((f): f is ProcessFault =>
    (PROCESS_FAULTS as readonly string[]).includes(f),
  );
  const why = netnsSkipReason(o.netns === true);
  const netns = why === null;
  const netnsAsked = o.faults.filter((f): f is NetnsFault => (NETNS_FAULTS as readonly string[]).includes(f));
  const skipped = netnsAsked
    .filter((f) => !netns || NOT_YET[f] !== undefined)
    .map((f) => ({ fault: f, why: why ?? NOT_YET[f]! }));
  const netnsFaults = netns ? netnsAsked.filter((f) => NOT_YET[f] === undefined) : [];
  const runFaults = [...processFaults, ...netnsFaults];
  print(
    `campaign: seed ${o.seed}, ${o.rounds} round(s) of ${o.roundSeconds} s, faults ${runFaults.join(",") || "none"}; ` +
      "the check is an HTTP check per member against the campaign's check server" +
      (netns
        ? "; in network namespaces (one per node, BIND9 in its own, the DNS handler with mode: latest); " +
          `DNS bounds: a server failing longer than ${DNS_BOUND_MS} ms is never listed, the records equal the live set within ${DNS_SETTLE_MS} ms of the heal`
        : "; on loopback"),
  );
  for (const w of new Set(skipped.map((s) => s.why)))
    print(
      `skipped faults: ${skipped
        .filter((s) => s.why === w)
        .map((s) => s.fault)
        .join(", ")}: ${w}`,
    );
  if (!netns) print("not run: the DNS (BIND9) checker, which needs the network namespaces");
  const columns: CheckerName[] = [...CHECKERS, ...(netns ? OPTIONAL_CHECKERS : [])];
  const totals = Object.fromEntries(
    [...CHECKERS, ...OPTIONAL_CHECKERS].map((c) => [c, { count: 0, violations: 0 }]),
  ) as CampaignResult["totals"];
  const rounds: RoundResult[] = [];
  let violations = 0;
  for (let i = 0; i < o.rounds; i++) {
    const seed = roundSeed(o.seed, i);
    let r: RoundResult;
    try {
      r = await runRound({
        seed,
        faults: runFaults,
        netns,
        seconds: o.roundSeconds,
        log: (l) => print(`  ${l}`),
        ...(o.keepDir ? { keepDir: o.keepDir } : {}),
      });
    } catch (err) {
      // A round that could not run (the cluster never came up) counts as a convergence failure.
      r = {
        seed,
        faults: [],
        faultCounts: {},
        verdicts: [
          {
            checker: "converge",
            count: 0,
            violations: [
              {
                what: `the round did not run: ${err instanceof Error ? err.message : String(err)}`,
                evidence: [],
              },
            ],
          },
        ],
        convergeMs: null,
        failoverMs: [],
        handlerMs: [],
        inRun: { hit: 0, miss: 0 },
        wallMs: 0,
        kept: null,
      };
    }
    rounds.push(r);
    const kinds = Object.entries(r.faultCounts)
      .map(([k, n]) => `${k}×${n}`)
      .join(" ");
    const cols = columns.map((name) => {
      const v = r.verdicts.find((x) => x.checker === name);
      if (!v) return `${name} -`;
      totals[name].count += v.count;
      totals[name].violations += v.violations.length;
      return `${name} ${v.count}${v.violations.length > 0 ? ` ✗${v.violations.length}` : " ok"}`;
    });
    const bad = r.verdicts.reduce((n, v) => n + v.violations.length, 0);
    violations += bad;
    print(
      `round ${i + 1}/${o.rounds} seed ${seed} (${(r.wallMs / 1000).toFixed(1)} s): faults ${kinds || "none"} ` +
        `(leader paused in a run: ${r.inRun.hit}/${r.inRun.hit + r.inRun.miss}) | ${cols.join(" | ")}`,
    );
    for (const v of r.verdicts) for (const n of v.notes ?? []) print(`  ${v.checker}: ${n}`);
    if (bad > 0) {
      print(`  VIOLATION in round seed ${seed}; replay: ${replayCommand(seed, runFaults, o.roundSeconds)}`);
      print(`  faults in order: ${r.faults.join("; ")}`);
      for (const v of r.verdicts) {
        if (v.violations.length > 10)
          print(`  [${v.checker}] ${v.violations.length} violations; the first 10:`);
        for (const x of v.violations.slice(0, 10)) {
          print(`  [${v.checker}] ${x.what}`);
          for (const e of x.evidence.slice(0, 20)) print(`      ${e}`);
          if (x.evidence.length > 20) print(`      ... ${x.evidence.length - 20} more`);
        }
      }
      if (r.kept) print(`  records kept in ${r.kept}`);
    }
  }
  print("");
  print("checker        checked  violations  (unit)");
  for (const name of columns) {
    const t = totals[name];
    print(
      `${name.padEnd(14)} ${String(t.count).padStart(7)}  ${String(t.violations).padStart(10)}  ${CHECKER_UNITS[name]}`,
    );
  }
  const conv = rounds.flatMap((r) => (r.convergeMs === null ? [] : [r.convergeMs]));
  print(`convergence after the heal: ${times(conv)}`);
  print(
    `failover (fault of the leader to the next leader-elected): ${times(rounds.flatMap((r) => r.failoverMs))}`,
  );
  print(
    `recorder handler runs (duration as the leader measured it): ${times(rounds.flatMap((r) => r.handlerMs))}`,
  );
  if (netns) {
    const dnsConv = rounds.flatMap((r) => (r.dns?.convergeMs == null ? [] : [r.dns.convergeMs]));
    print(`DNS records equal the live set after the heal: ${times(dnsConv)}`);
    print(
      `DNS drops a failing server (failure start to the first answer without it): ${times(rounds.flatMap((r) => r.dns?.removalMs ?? []))}`,
    );
  }
  print(`rounds: ${rounds.length}, violations: ${violations}${violations > 0 ? ` (seed ${o.seed})` : ""}`);
  return { rounds, totals, violations, skipped };
}
