/**
 * Service folders for multi-process tests: every script appends one line per phase to a shared
 * log with a CLOCK_MONOTONIC timestamp (process.hrtime, the same clock in every process on a
 * machine), so a test can prove from the scripts' own records that two masters were never
 * active at once.
 */
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Fast cluster timing for master tests (ProcessCluster options): a 1.5 s lease, so a master
 * demotes itself after 1 s of silence and has 0.5 s for `demote`.
 */
export const FAST_MASTER_TIMING = {
  raftHeartbeat: "50ms",
  electionTimeout: "500ms",
  heartbeat: "100ms",
  memberTimeout: "600ms",
  masterLease: "1500ms",
} as const;

let stampCommand: string | null = null;

/**
 * A command printing CLOCK_MONOTONIC in nanoseconds: a 10-line C program compiled once (1 ms a
 * run, so scripts stay fast within a short demote budget), or a node one-liner (~50 ms) where
 * no C compiler is installed. Both read the same clock.
 */
export function stamp(): string {
  if (stampCommand !== null) return stampCommand;
  const dir = mkdtempSync(join(tmpdir(), "conclave-stamp-"));
  const src = join(dir, "stamp.c");
  writeFileSync(
    src,
    `#include <stdio.h>\n#include <time.h>\nint main(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);printf("%lld",(long long)t.tv_sec*1000000000LL+t.tv_nsec);return 0;}\n`,
  );
  const cc = spawnSync("cc", ["-O2", "-o", join(dir, "stamp"), src], { stdio: "ignore" });
  stampCommand =
    cc.status === 0
      ? join(dir, "stamp")
      : `"${process.execPath}" -e 'process.stdout.write(String(process.hrtime.bigint()))'`;
  return stampCommand;
}

/** Options of {@link writeService}. */
export interface ServiceFixture {
  /** The member whose services_dir this is (written into each line). */
  member: string;
  service: string;
  /** services_dir of that member. */
  servicesDir: string;
  /** The shared log. */
  log: string;
  priority?: number;
  /** Scripts to create (default: all but status and failed). */
  scripts?: readonly ("start" | "stop" | "status" | "promote" | "demote" | "failed")[];
  /** Extra shell run by `status` (its exit code is the status), default `true`. */
  status?: string;
}

/** Create `servicesDir/service/` with logging scripts. */
export function writeService(f: ServiceFixture): void {
  const dir = join(f.servicesDir, f.service);
  mkdirSync(dir, { recursive: true });
  if (f.priority !== undefined) writeFileSync(join(dir, "priority"), `${f.priority}\n`);
  for (const script of f.scripts ?? ["start", "stop", "promote", "demote"]) {
    const line = (phase: string) =>
      `echo "$(${stamp()}) ${f.member} ${f.service} ${script} ${phase} \${CONCLAVE_EPOCH:-0} \${CONCLAVE_REASON:-}" >> ${f.log}`;
    const body =
      script === "status"
        ? (f.status ?? "true")
        : `${line("begin")}\n${script === "promote" || script === "demote" ? "sleep 0.05\n" : ""}${line("end")}`;
    writeFileSync(join(dir, script), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, script), 0o755);
  }
}

/** One line of the log. */
export interface ScriptRecord {
  ns: bigint;
  member: string;
  service: string;
  script: string;
  phase: "begin" | "end";
  epoch: number;
  reason: string;
}

/** Parse the shared log. */
export function readRecords(log: string): ScriptRecord[] {
  let text = "";
  try {
    text = readFileSync(log, "utf8");
  } catch {
    return [];
  }
  return text
    .trim()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const [ns, member, service, script, phase, epoch, ...reason] = l.split(" ");
      return {
        ns: BigInt(ns!),
        member: member!,
        service: service!,
        script: script!,
        phase: phase as "begin" | "end",
        epoch: Number(epoch),
        reason: reason.join(" "),
      };
    })
    .sort((a, b) => (a.ns < b.ns ? -1 : a.ns > b.ns ? 1 : 0));
}

/** A span in which a member may have been an active master: from promote begin to demote end. */
export interface MasterSpan {
  member: string;
  service: string;
  from: bigint;
  /** null: still master. */
  to: bigint | null;
}

/** The master spans of `service` from the records. */
export function masterSpans(records: readonly ScriptRecord[], service: string): MasterSpan[] {
  const open = new Map<string, MasterSpan>();
  const spans: MasterSpan[] = [];
  for (const r of records) {
    if (r.service !== service) continue;
    if (r.script === "promote" && r.phase === "begin" && !open.has(r.member)) {
      const s: MasterSpan = { member: r.member, service, from: r.ns, to: null };
      open.set(r.member, s);
      spans.push(s);
    } else if (r.script === "demote" && r.phase === "end") {
      const s = open.get(r.member);
      if (s) {
        s.to = r.ns;
        open.delete(r.member);
      }
    }
  }
  return spans;
}

/** Pairs of spans of different members that overlap in time (should be none). */
export function overlaps(spans: readonly MasterSpan[]): [MasterSpan, MasterSpan][] {
  const out: [MasterSpan, MasterSpan][] = [];
  for (let i = 0; i < spans.length; i++) {
    for (let j = i + 1; j < spans.length; j++) {
      const a = spans[i]!;
      const b = spans[j]!;
      if (a.member === b.member) continue;
      const aEnd = a.to ?? BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n;
      const bEnd = b.to ?? BigInt(Number.MAX_SAFE_INTEGER) * 1_000_000n;
      if (a.from < bEnd && b.from < aEnd) out.push([a, b]);
    }
  }
  return out;
}
