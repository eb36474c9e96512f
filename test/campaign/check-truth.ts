/**
 * Checker 7, checks tell the truth (what the DNS checker will judge through BIND9, judged here
 * on the committed log directly): no committed event may say a member's check is passing while
 * the nemesis had kept that member's application failing for longer than a bound before it.
 * Claims of passing are `check-passing` events and the check states a member registers with
 * (`member-joined`, `member-up`). This is what an agent restarted while its application is down
 * gets wrong when its checks start passing instead of pending.
 *
 * The bound W covers `rise` probes, the report and the leader's decision; a member paused by
 * the nemesis in the W before a claim is excused (it may send a stale passing result when it
 * resumes). A killed or restarted agent is not excused: its new process has no stale result.
 *
 * Pure: no I/O.
 */
import type { CampaignEvent } from "./campaign-event.ts";
import type { FaultWindow } from "./check-member-down.ts";
import type { AppTransition } from "./check-server.ts";
import type { CheckerVerdict, Violation } from "./verdict.ts";

/** What {@link checkTruth} needs. */
export interface TruthInput {
  readonly check: string;
  readonly transitions: readonly AppTransition[];
  readonly events: readonly CampaignEvent[];
  readonly faults: readonly FaultWindow[];
  /** CLOCK_MONOTONIC ns of an event time: `Date.parse(time) * 1e6 - offsetNs`. */
  readonly offsetNs: bigint;
  /** The bound W (default 3000 ms). */
  readonly boundMs?: number;
}

const MS = 1_000_000n;

/** Checker 7: see the file's comment. */
export function checkTruth(input: TruthInput): CheckerVerdict {
  const violations: Violation[] = [];
  const bound = BigInt(input.boundMs ?? 3000) * MS;
  const at = (e: CampaignEvent) => BigInt(Date.parse(e.time)) * MS - input.offsetNs;
  /** Since when `member`'s application has been failing at `t`, or null if it was not. */
  const failingSince = (member: string, t: bigint): bigint | null => {
    let since: bigint | null = null;
    for (const x of input.transitions) {
      if (x.member !== member || x.at > t) continue;
      since = x.failing ? x.at : null;
    }
    return since;
  };
  let claims = 0;
  for (const e of input.events) {
    if (e.member === null) continue;
    const passing =
      (e.type === "check-passing" && e.details.check === input.check) ||
      ((e.type === "member-joined" || e.type === "member-up") &&
        (e.details.checks as Record<string, unknown> | undefined)?.[input.check] === "passing");
    if (!passing) continue;
    claims++;
    const t = at(e);
    const since = failingSince(e.member, t);
    if (since === null || t - since <= bound) continue;
    const excused = input.faults.some(
      (f) =>
        f.node === e.member && f.kind === "pause" && f.from <= t && (f.to ?? t) >= t - bound - MS * 1000n,
    );
    if (excused) continue;
    violations.push({
      what: `${e.member}'s check ${input.check} committed passing (event ${e.id} ${e.type}) ${(t - since) / MS} ms into a failure of its application`,
      evidence: [
        JSON.stringify(e),
        `application of ${e.member} failing since ${since} (event at ${t})`,
        ...input.faults
          .filter((f) => f.node === e.member)
          .map((f) => `${f.kind} ${f.node} from ${f.from} to ${f.to ?? "never"}`),
      ],
    });
  }
  return { checker: "checks-truth", count: claims, violations };
}
