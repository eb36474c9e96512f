/**
 * The campaign's recorder handler: a bash script, run by the leader with `concurrency: 1`, that
 * appends lines stamped with bash's $EPOCHREALTIME (wall clock, µs, written as ns; a builtin, so
 * no fork per stamp on a loaded machine; the stamps are only compared with each other) to one runs log and applies its "effect" to a fenced
 * store per member (a fence file under flock). Each run writes
 *
 *     start NS HANDLER EVENT ATTEMPT FENCE MEMBER TYPE PID
 *     tick  ...      (every 40 ms while it works, so a killed run's last moment is known)
 *     effect ...     (it took effect: its fence is not older than the newest the store saw)
 *     refused ...    (its fence TERM:INDEX is older than the newest the store saw)
 *     end ...
 *
 * A run killed by its lease watchdog has no `end`. {@link parseRuns} reads the log back.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** One line of the runs log. */
export type RunPhase = "start" | "tick" | "effect" | "refused" | "end";

/** One run of the recorder, as its lines show it. */
export interface RecordedRun {
  readonly handler: string;
  readonly event: number;
  readonly attempt: number;
  /** CONCLAVE_FENCE as [term, index] of the attempt's handler-started entry. */
  readonly fence: readonly [number, number];
  readonly member: string;
  readonly type: string;
  readonly pid: number;
  /** Wall-clock ns ($EPOCHREALTIME) of its first and last lines. */
  readonly start: bigint;
  readonly last: bigint;
  /** When it took effect / was refused / ended, if it did. */
  readonly effect: bigint | null;
  readonly refused: bigint | null;
  readonly end: bigint | null;
}

/** Write the recorder into `dir`; returns the script, the runs log and the store's folder. */
export function writeRecorder(dir: string, workTicks = 6): { script: string; log: string; store: string } {
  const store = join(dir, "store");
  mkdirSync(store, { recursive: true });
  const log = join(dir, "runs.log");
  const script = join(dir, "recorder");
  writeFileSync(
    script,
    `#!/bin/bash
# Builtins only where it matters (no fork per stamp): the box may be loaded.
while read -r _; do :; done
exec 8<> <(:)
m=\${CONCLAVE_MEMBER:-none}
line() { local t=\${EPOCHREALTIME/./}; echo "$1 \${t}000 $CONCLAVE_HANDLER $CONCLAVE_EVENT_ID $CONCLAVE_ATTEMPT $CONCLAVE_FENCE $m $CONCLAVE_EVENT $$" >> ${log}; }
line start
for ((i = 0; i < ${workTicks}; i++)); do read -r -t 0.04 -u 8 _; line tick; done
IFS=: read -r fterm findex <<< "$CONCLAVE_FENCE"
exec 9>> ${store}/$m.lock
flock 9
newest=0:0
[ -f ${store}/$m.fence ] && read -r newest < ${store}/$m.fence
IFS=: read -r nt ni <<< "$newest"
if (( fterm < nt || (fterm == nt && findex < ni) )); then
  line refused
else
  echo "$CONCLAVE_FENCE" > ${store}/$m.fence
  line effect
fi
exec 9>&-
line tick
line end
`,
  );
  chmodSync(script, 0o755);
  return { script, log, store };
}

/** Parse the runs log into runs (keyed by pid and fence: one process, one run). */
export function parseRuns(text: string): RecordedRun[] {
  type Mutable = { -readonly [K in keyof RecordedRun]: RecordedRun[K] };
  const runs = new Map<string, Mutable>();
  for (const raw of text.split("\n")) {
    const f = raw.trim().split(" ");
    if (f.length < 9) continue;
    const [phase, ns, handler, event, attempt, fence, member, type, pid] = f as [
      RunPhase,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if (!/^\d+$/.test(ns)) continue;
    const t = BigInt(ns);
    const key = `${pid} ${fence}`;
    let r = runs.get(key);
    if (!r) {
      const [term, index] = fence.split(":").map(Number) as [number, number];
      r = {
        handler,
        event: Number(event),
        attempt: Number(attempt),
        fence: [term, index],
        member,
        type,
        pid: Number(pid),
        start: t,
        last: t,
        effect: null,
        refused: null,
        end: null,
      };
      runs.set(key, r);
    }
    if (t < r.start) r.start = t;
    if (t > r.last) r.last = t;
    if (phase === "effect") r.effect = t;
    if (phase === "refused") r.refused = t;
    if (phase === "end") r.end = t;
  }
  return [...runs.values()].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}

/** Read and parse the runs log (none yet: no runs). */
export function readRuns(log: string): RecordedRun[] {
  try {
    return parseRuns(readFileSync(log, "utf8"));
  } catch {
    return [];
  }
}
