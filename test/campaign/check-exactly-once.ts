/**
 * Checker 1, exactly once, over the recorder's runs (recorder.ts) and the committed event log:
 *
 * - every committed event the handler subscribes to has a run that took effect (an unrefused
 *   effect); a second effect is a violation unless it is the repeat the contract allows ("a run
 *   may repeat, and may be cut off at any instruction", docs/handler-contract.md): the earlier
 *   attempt has no handler-succeeded (it was cut off after its effect, or its leader was lost
 *   before recording the success) and the later attempt began after the earlier run's last
 *   stamp. Those are counted as tolerated repeats. A pair whose success was committed never
 *   takes effect again;
 * - no two runs of one (event, handler) pair overlap in their stamps, and no attempt runs twice;
 * - every run has a committed handler-started (its fence's index) for the same event, handler
 *   and attempt;
 * - a handler-started with attempt above 1 follows a leader change (a leader-elected between it
 *   and the previous attempt's handler-started), unless it is a retry of a recorded failure
 *   (`previous` holds the failed outcome) or an operator retry (`retry: true`).
 *
 * Pure: no I/O.
 */
import type { CampaignEvent } from "./campaign-event.ts";
import type { RecordedRun } from "./recorder.ts";
import type { CheckerVerdict, Violation } from "./verdict.ts";

/** What {@link checkExactlyOnce} needs. */
export interface ExactlyOnceInput {
  readonly handler: string;
  /** The event types the handler is subscribed to. */
  readonly on: readonly string[];
  readonly runs: readonly RecordedRun[];
  /** One elector's committed log, in id order. */
  readonly events: readonly CampaignEvent[];
}

const show = (r: RecordedRun): string =>
  `run pid ${r.pid} event ${r.event} attempt ${r.attempt} fence ${r.fence.join(":")} ` +
  `start ${r.start} last ${r.last} effect ${r.effect ?? "-"} refused ${r.refused ?? "-"} end ${r.end ?? "-"}`;

const showEvent = (e: CampaignEvent): string =>
  `event ${e.id} term ${e.term} ${e.type} ${e.member ?? ""} ${JSON.stringify(e.details)}`;

/** Checker 1: see the file's comment. */
export function checkExactlyOnce(input: ExactlyOnceInput): CheckerVerdict {
  const violations: Violation[] = [];
  const { handler } = input;
  const byId = new Map(input.events.map((e) => [e.id, e]));
  const subscribed = input.events.filter((e) => input.on.includes(e.type));
  const runsOf = new Map<number, RecordedRun[]>();
  for (const r of input.runs.filter((x) => x.handler === handler)) {
    const list = runsOf.get(r.event) ?? [];
    list.push(r);
    runsOf.set(r.event, list);
  }
  const lifecycle = (type: string, event: number) =>
    input.events.filter((e) => e.type === type && e.details.handler === handler && e.details.event === event);
  const leaderChangeBetween = (a: number, b: number) =>
    input.events.some((e) => e.type === "leader-elected" && e.id > a && e.id < b);
  let repeats = 0;

  for (const ev of subscribed) {
    const runs = (runsOf.get(ev.id) ?? []).slice().sort((a, b) => (a.start < b.start ? -1 : 1));
    const started = lifecycle("handler-started", ev.id);
    const succeeded = lifecycle("handler-succeeded", ev.id);
    const effects = runs.filter((r) => r.effect !== null);
    if (effects.length === 0) {
      violations.push({
        what: `event ${ev.id} (${ev.type} ${ev.member ?? ""}): no run of ${handler} took effect`,
        evidence: [showEvent(ev), ...started.map(showEvent), ...runs.map(show)],
      });
    }
    for (let i = 1; i < effects.length; i++) {
      const earlier = effects[i - 1]!;
      const later = effects[i]!;
      const earlierStarted = started.find((s) => s.details.attempt === earlier.attempt);
      const laterStarted = started.find((s) => s.details.attempt === later.attempt);
      // The repeat the contract allows: the earlier attempt's outcome was not a success (it was
      // cut off after its effect, or its leader was lost before recording it), and the later
      // attempt began after the earlier run's last sign of life.
      const tolerated =
        earlier.last < later.start &&
        later.attempt > earlier.attempt &&
        !succeeded.some((s) => s.details.attempt === earlier.attempt) &&
        earlierStarted !== undefined &&
        laterStarted !== undefined &&
        laterStarted.id > earlierStarted.id;
      if (tolerated) repeats++;
      else
        violations.push({
          what: `event ${ev.id} (${ev.type} ${ev.member ?? ""}): ${handler} took effect twice (attempts ${earlier.attempt} and ${later.attempt})`,
          evidence: [
            showEvent(ev),
            ...started.map(showEvent),
            ...succeeded.map(showEvent),
            show(earlier),
            show(later),
          ],
        });
    }
    for (let i = 0; i < runs.length; i++) {
      for (let j = i + 1; j < runs.length; j++) {
        const a = runs[i]!;
        const b = runs[j]!;
        if (a.attempt === b.attempt) {
          violations.push({
            what: `event ${ev.id}: attempt ${a.attempt} of ${handler} ran twice`,
            evidence: [show(a), show(b)],
          });
        } else if (a.start <= b.last && b.start <= a.last) {
          violations.push({
            what: `event ${ev.id}: runs of ${handler} overlap (attempts ${a.attempt} and ${b.attempt})`,
            evidence: [show(a), show(b)],
          });
        }
      }
    }
  }

  // Every run ran under a committed handler-started of its own pair and attempt.
  for (const r of input.runs.filter((x) => x.handler === handler)) {
    const s = byId.get(r.fence[1]);
    const ok =
      s !== undefined &&
      s.type === "handler-started" &&
      s.term === r.fence[0] &&
      s.details.handler === handler &&
      s.details.event === r.event &&
      s.details.attempt === r.attempt;
    if (!ok) {
      violations.push({
        what: `a run of ${handler} for event ${r.event} attempt ${r.attempt} has no committed handler-started at its fence ${r.fence.join(":")}`,
        evidence: [show(r), ...(s ? [showEvent(s)] : [`no event ${r.fence[1]} in the log`])],
      });
    }
  }

  // Attempts above 1 follow a leader change (or a recorded failure, or an operator retry).
  for (const ev of subscribed) {
    const started = lifecycle("handler-started", ev.id);
    for (const s of started) {
      const attempt = Number(s.details.attempt);
      if (attempt <= 1) continue;
      const prev = started.find((p) => p.details.attempt === attempt - 1);
      const retryOfFailure = typeof s.details.previous === "object" && s.details.previous !== null;
      const operator = s.details.retry === true;
      if (retryOfFailure || operator) continue;
      if (!prev || !leaderChangeBetween(prev.id, s.id)) {
        violations.push({
          what: `event ${ev.id}: ${handler} attempt ${attempt} started without a leader change since attempt ${attempt - 1}`,
          evidence: [
            ...started.map(showEvent),
            ...(prev ? [] : [`no handler-started for attempt ${attempt - 1}`]),
          ],
        });
      }
    }
  }

  return {
    checker: "exactly-once",
    count: subscribed.length,
    violations,
    notes:
      repeats > 0
        ? [
            `${repeats} tolerated repeat(s): an attempt cut off after its effect, or whose leader was lost before recording its success, ran again`,
          ]
        : [],
  };
}
