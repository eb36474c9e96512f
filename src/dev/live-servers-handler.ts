/**
 * The demo's `live-servers` handler (`conclave dev`): a reconciling handler as
 * docs/handler-contract.md recommends. It runs on the leader for each membership and check
 * event and rewrites a file listing, one per line, the members that are `up` and whose check
 * CHECK is `passing` in the committed member view on its standard input: the list a round-robin
 * DNS name or a load balancer would serve. Any other check state (failing, or one not yet
 * reported as passing) keeps a member out.
 *
 *     live-servers-handler LIST_FILE CHECK FEED_FILE
 *
 * - It does not apply the event as a delta: it computes the whole list from the view, so a
 *   second run for one event, or a run for an older event, does no harm.
 * - It is fenced: the file's first line records the `CONCLAVE_FENCE` of the run that wrote it,
 *   and a run whose fence is not larger writes nothing (runs for different events may overlap,
 *   and a later fence always comes with a view at least as new). The demo runs it under
 *   `flock LIST_FILE.lock`, so the compare and the write are one step.
 * - The file is replaced by a rename, so a reader never sees half a list.
 * - When the list changes it appends one line to FEED_FILE (the demo prints that file).
 * - With `CONCLAVE_DRY_RUN=1` it prints the list and writes nothing.
 */
import { appendFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import type { HandlerStdin } from "../contract/handler-env.ts";

/** A fence `TERM:INDEX`, as two numbers. */
type Fence = readonly [number, number];

function parseFence(s: string | undefined): Fence | null {
  const m = /^(\d+):(\d+)$/.exec(s ?? "");
  return m ? [Number(m[1]), Number(m[2])] : null;
}

/** Fences compare as two numbers, term first (docs/handler-contract.md). */
function newer(a: Fence, b: Fence): boolean {
  return a[0] !== b[0] ? a[0] > b[0] : a[1] > b[1];
}

/** The members listed: up, with `check` passing, by name. */
function liveServers(input: HandlerStdin, check: string): string[] {
  return input.members
    .filter((m) => m.status === "up" && m.checks[check] === "passing")
    .map((m) => m.name)
    .sort();
}

/** Why `name` is not listed, in words. */
function whyOut(input: HandlerStdin, name: string, check: string): string {
  const m = input.members.find((x) => x.name === name);
  if (!m) return "no longer a member";
  if (m.status !== "up") return `it is ${m.status}`;
  return `its "${check}" check is ${m.checks[check] ?? "not reported"}`;
}

/** The list file as it is now: its fence and names (none when it does not exist yet). */
function readList(file: string): { fence: Fence | null; names: string[] } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return { fence: null, names: [] };
  }
  const lines = text.split("\n");
  return {
    fence: parseFence(/fence (\S+)/.exec(lines[0] ?? "")?.[1]),
    names: lines.filter((l) => l !== "" && !l.startsWith("#")),
  };
}

function main(): number {
  const [listFile, check, feedFile] = process.argv.slice(2);
  if (!listFile || !check || !feedFile) {
    process.stderr.write("usage: live-servers-handler LIST_FILE CHECK FEED_FILE\n");
    return 2;
  }
  const input = JSON.parse(readFileSync(0, "utf8")) as HandlerStdin;
  if (process.env.CONCLAVE_DRY_RUN === "1") {
    process.stdout.write(`dry run: would list ${liveServers(input, check).join(" ") || "(none)"}\n`);
    return 0;
  }
  const fence = parseFence(process.env.CONCLAVE_FENCE);
  if (!fence) {
    process.stderr.write(`live-servers: CONCLAVE_FENCE is not TERM:INDEX: "${process.env.CONCLAVE_FENCE}"\n`);
    return 2;
  }
  const before = readList(listFile);
  if (before.fence && !newer(fence, before.fence)) {
    process.stdout.write(
      `a run fenced ${before.fence.join(":")} already wrote the list; nothing to do at ${fence.join(":")}\n`,
    );
    return 0;
  }
  const names = liveServers(input, check);
  const e = input.event;
  const cause = `event ${e.id} ${e.type}${e.member ? ` of ${e.member}` : ""}`;
  const tmp = `${listFile}.${process.pid}.tmp`;
  writeFileSync(
    tmp,
    `# up with "${check}" passing; written at fence ${fence.join(":")}, in the run for ${cause}\n` +
      names.map((n) => `${n}\n`).join(""),
  );
  renameSync(tmp, listFile);
  const shown = names.length > 0 ? names.join(" ") : "(none)";
  const changes = [
    ...before.names.filter((n) => !names.includes(n)).map((n) => `${n} out: ${whyOut(input, n, check)}`),
    ...names.filter((n) => !before.names.includes(n)).map((n) => `${n} in`),
  ];
  if (changes.length > 0) {
    const time = new Date().toTimeString().slice(0, 8);
    appendFileSync(feedFile, `${time} live servers: ${shown}   (${changes.join("; ")})\n`);
  }
  process.stdout.write(`live servers: ${shown}\n`);
  return 0;
}

process.exitCode = main();
