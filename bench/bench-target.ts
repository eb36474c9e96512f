/**
 * What bench/raft-vs-etcd.ts drives: a three-node replicated key-value store running as
 * separate processes on loopback, written to over gRPC. The same driver code measures every
 * implementation of {@link Target} (Conclave electors, etcd members), so the figures differ
 * only by what the servers do.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/** A three-node cluster under test. Every method may throw when the cluster misbehaves. */
export interface Target {
  /** Column heading in the results table ("conclave", "etcd"). */
  readonly label: string;
  /** The node names, fixed at construction. */
  readonly names: readonly string[];
  /** Start every node and wait until a leader is elected. */
  start(): Promise<void>;
  /**
   * Write `key` = `value` through the current leader (as last found by {@link leaderName}),
   * resolving once the write is acknowledged (committed by a quorum).
   */
  put(key: string, value: string): Promise<void>;
  /**
   * One write attempt through node `name` with a deadline of `timeoutMs` and no retries; a
   * follower forwards it to the leader. Used to notice the first acknowledged write after a
   * failover.
   */
  putTo(name: string, key: string, value: string, timeoutMs: number): Promise<void>;
  /** Find the current leader among the live nodes (waiting up to `timeoutMs`) and send {@link put} there. */
  leaderName(timeoutMs?: number): Promise<string>;
  /** `kill -9` a node and wait until its process is gone. */
  kill9(name: string): Promise<void>;
  /** Start a killed node again on its existing data dir (does not wait for it to catch up). */
  restart(name: string): Promise<void>;
  /** Wait until every node is running, agrees on a leader and has caught up with the log. */
  waitWhole(timeoutMs: number): Promise<void>;
  /** Process id of every running node, for RSS. */
  pids(): Map<string, number>;
  /** The version string of the server software. */
  version(): string;
  /** Kill every node, close the clients and delete the temp dirs. Idempotent. */
  stop(): Promise<void>;
  /** The same as {@link stop} without waiting for anything: for exit and signal handlers. Idempotent. */
  stopSync(): void;
  /** The last lines each node wrote, for diagnosing a failure. */
  diagnostics(): string;
}

/**
 * Resident set size of a process in MB (MiB), from `VmRSS` in `/proc/PID/status`, or
 * undefined when the process is gone or /proc is not there.
 */
export function rssMb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Resolve after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The last `maxLines` lines of `text`, each indented for a report. */
export function tail(text: string, maxLines = 20): string {
  const lines = text.trimEnd().split("\n");
  return lines
    .slice(-maxLines)
    .map((l) => `    ${l}`)
    .join("\n");
}

let clockTicks: number | undefined;

/**
 * CPU time (user + system) a process has used so far, in seconds, from `/proc/PID/stat`, or
 * undefined when the process is gone or /proc is not there.
 */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces) start with field 3, the state.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    clockTicks ??= Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;
    return (Number(fields[11]) + Number(fields[12])) / clockTicks;
  } catch {
    return undefined;
  }
}
