/**
 * A handler that records boot-clock stamps (CLOCK_BOOTTIME from /proc/uptime, centiseconds,
 * read with a builtin: no fork), for the handler-lease tests: `EVENT ATTEMPT start|tick|end STAMP`
 * lines, a tick every 20 ms. The event id keys them: another event's run (a member the new
 * leader declared down too, say) must not pass for one of the pair's attempts. The first attempt for member `slowMember` ticks for 8 s, every
 * other run for 0.2 s. {@link attemptGap} reads the file back.
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Write the handler into `dir`; returns its path and its log's path. */
export function writeStampHandler(dir: string, slowMember: string): { handler: string; log: string } {
  const log = join(dir, "stamps.log");
  const handler = join(dir, "stamp-handler");
  writeFileSync(
    handler,
    `#!/bin/bash
cat > /dev/null
stamp() { local up _r; read -r up _r </proc/uptime; echo "$CONCLAVE_EVENT_ID $CONCLAVE_ATTEMPT $1 \${up/./}" >> ${log}; }
stamp start
n=10; [ "$CONCLAVE_ATTEMPT" = 1 ] && [ "$CONCLAVE_MEMBER" = ${slowMember} ] && n=400
for i in $(seq $n); do stamp tick; sleep 0.02; done
stamp end
`,
  );
  chmodSync(handler, 0o755);
  return { handler, log };
}

/** Whether attempt 1 has ticked. */
export function firstAttemptTicking(log: string): boolean {
  try {
    return readFileSync(log, "utf8").includes(" 1 tick ");
  } catch {
    return false;
  }
}

/** Of event `eventId`'s runs: attempt 1's last stamp, attempt 2's first, and whether attempt 1 ended by itself. */
export function attemptGap(
  log: string,
  eventId: number,
): { lastOfFirst: number; firstOfSecond: number; firstEnded: boolean } {
  const lines = readFileSync(log, "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(" "))
    .filter((l) => l[0] === String(eventId))
    .map((l) => l.slice(1));
  const stamps = (attempt: string) => lines.filter((l) => l[0] === attempt).map((l) => Number(l[2]));
  return {
    lastOfFirst: Math.max(...stamps("1")),
    firstOfSecond: Math.min(...stamps("2")),
    firstEnded: lines.some((l) => l[0] === "1" && l[1] === "end"),
  };
}
