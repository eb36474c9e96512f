/**
 * Whether a process group still has a member that runs, read from `/proc` (Linux).
 *
 * Why: `kill(-pgid, 0)` succeeds while a group holds only zombies, and a zombie is reaped
 * by whoever its parent is. A run's leftover (the lease watcher of a handler, a `cmd &` of
 * a script) is re-parented to PID 1 once the run's program ends; an init that does not reap
 * (a container's PID 1, some sandboxes) leaves it a zombie for good, and the runner would
 * then wait out the whole kill grace after every run. A zombie runs nothing and can overlap
 * nothing, so it does not keep a run alive.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";

/**
 * Whether a process of group `pgid` is in a state other than zombie (`Z`) or dead (`X`);
 * null when `/proc` cannot be read (not Linux), so the caller keeps its own answer.
 */
export function groupHasLiveMember(pgid: number, procDir = "/proc"): boolean | null {
  let entries: string[];
  try {
    entries = readdirSync(procDir);
  } catch {
    return null;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`${procDir}/${name}/stat`, "utf8");
    } catch {
      continue; // gone between the listing and the read
    }
    // `pid (comm) state ppid pgrp ...`: comm may hold spaces and parentheses, so split after
    // the last ')'.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(fields[2]) !== pgid) continue;
    if (fields[0] !== "Z" && fields[0] !== "X") return true;
  }
  return false;
}

/**
 * Whether process `pid` exists and is not a zombie (signal 0 alone cannot tell: it reaches
 * a zombie too). Falls back to signal 0 where `/proc` cannot be read.
 */
export function processRuns(pid: number, procDir = "/proc"): boolean {
  try {
    const stat = readFileSync(`${procDir}/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch (e) {
    // No entry in a /proc that exists: no such process.
    if ((e as NodeJS.ErrnoException).code === "ENOENT" && existsSync(`${procDir}/self`)) return false;
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
