/**
 * Bytes a process moves through its network sockets, counted at the system-call level with
 * strace: every successful `read`, `readv`, `recvfrom`, `recvmsg` (in) and `write`, `writev`,
 * `sendto`, `sendmsg` (out) on a TCP or UDP file descriptor (`strace -yy` names the socket
 * behind each descriptor), summed from the calls' return values. That is the payload the
 * process hands to and takes from the kernel: application bytes including the protocol's own
 * framing (HTTP/2 and gRPC frames, memberlist messages), without IP/TCP/UDP headers and TCP
 * acknowledgements. File, pipe and Unix-socket I/O is not counted.
 *
 * Why not `/proc/PID/io`: its `rchar`/`wchar` count `read`/`write` on any file, sockets
 * included, but not `sendto`/`recvfrom`/`sendmsg`/`recvmsg`, which is what UDP senders use
 * (serf's gossip), so it would undercount serf. {@link ioChars} reads it anyway, for
 * comparison.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sleep } from "./bench-target.ts";

/** Socket bytes of one process over a window. */
export interface SocketBytes {
  bytesIn: number;
  bytesOut: number;
  /** The socket system calls counted. */
  calls: number;
  seconds: number;
}

/** The system calls counted, and their direction. */
const DIRECTION: Record<string, "in" | "out"> = {
  read: "in",
  readv: "in",
  recvfrom: "in",
  recvmsg: "in",
  write: "out",
  writev: "out",
  sendto: "out",
  sendmsg: "out",
};

/** Whether `strace` runs here. */
export function straceAvailable(): boolean {
  const r = spawnSync("strace", ["-V"], { encoding: "utf8" });
  return !r.error && r.status === 0;
}

/** `strace -V`'s first line, or undefined. */
export function straceVersion(): string | undefined {
  const r = spawnSync("strace", ["-V"], { encoding: "utf8" });
  return r.error || r.status !== 0 ? undefined : r.stdout.trim().split("\n")[0];
}

/**
 * Count, from an `strace -f -ttt -yy` output file, the bytes through TCP and UDP sockets in
 * calls that started between `fromS` and `toS` (seconds since the epoch).
 */
export function parseStrace(text: string, fromS: number, toS: number): SocketBytes {
  const out: SocketBytes = { bytesIn: 0, bytesOut: 0, calls: 0, seconds: toS - fromS };
  /** Per thread: the call strace split into `<unfinished ...>` and `<... resumed>` lines. */
  const pending = new Map<string, { dir: "in" | "out"; socket: boolean; at: number }>();
  const add = (dir: "in" | "out", bytes: number) => {
    if (dir === "in") out.bytesIn += bytes;
    else out.bytesOut += bytes;
    out.calls++;
  };
  for (const line of text.split("\n")) {
    // "TID SECONDS.MICROS CALL": strace prefixes the thread id when it follows several.
    const m = /^(?:(\d+)\s+)?(\d+\.\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const [, tidText, atText, rest] = m;
    const tid = tidText ?? "";
    const at = Number(atText);
    const resumed = /^<\.\.\. (\w+) resumed>.*\)\s+=\s+(\d+)/.exec(rest!);
    if (resumed) {
      const p = pending.get(tid);
      pending.delete(tid);
      if (p?.socket && p.at >= fromS && p.at <= toS) add(p.dir, Number(resumed[2]));
      continue;
    }
    const call = /^(\w+)\((\d+)<([^>]*)>/.exec(rest!);
    if (!call) continue;
    const dir = DIRECTION[call[1]!];
    if (!dir) continue;
    const socket = /^(TCP|UDP)(v6)?:/.test(call[3]!);
    if (rest!.endsWith("<unfinished ...>")) {
      pending.set(tid, { dir, socket, at });
      continue;
    }
    const ret = /\)\s+=\s+(\d+)$/.exec(rest!);
    if (socket && ret && at >= fromS && at <= toS) add(dir, Number(ret[1]));
  }
  return out;
}

/**
 * Trace every process of `pids` at once with strace for `seconds` (after a one-second
 * attach period that is not counted) and return each one's socket bytes. `track` receives
 * every strace process started, so a signal handler can end them; `dir` holds the output
 * files. Processes strace could not attach to are left out of the result.
 */
export async function traceSocketBytes(
  pids: Map<string, number>,
  seconds: number,
  dir: string,
  track: (proc: ChildProcess, done: boolean) => void,
): Promise<Map<string, SocketBytes>> {
  const traces: { name: string; file: string; proc: ChildProcess; exited: Promise<void> }[] = [];
  for (const [name, pid] of pids) {
    const file = join(dir, `strace-${name}-${pid}.txt`);
    const proc = spawn(
      "strace",
      [
        "-f",
        "-qq",
        "-ttt",
        "-yy",
        "-s",
        "0",
        "-e",
        `trace=${Object.keys(DIRECTION).join(",")}`,
        "-e",
        "signal=none",
        "-o",
        file,
        "-p",
        String(pid),
      ],
      { stdio: "ignore" },
    );
    track(proc, false);
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    traces.push({ name, file, proc, exited });
  }
  await sleep(1000);
  const fromS = Date.now() / 1000;
  await sleep(seconds * 1000);
  const toS = Date.now() / 1000;
  for (const t of traces) t.proc.kill("SIGINT"); // strace detaches and exits
  await Promise.all(
    traces.map((t) => Promise.race([t.exited, sleep(5000).then(() => void t.proc.kill("SIGKILL"))])),
  );
  const result = new Map<string, SocketBytes>();
  for (const t of traces) {
    track(t.proc, true);
    let text: string;
    try {
      text = readFileSync(t.file, "utf8");
    } catch {
      continue;
    }
    result.set(t.name, parseStrace(text, fromS, toS));
  }
  return result;
}

/**
 * `rchar` + `wchar` of `/proc/PID/io` (bytes through `read`- and `write`-like calls on any
 * file, sockets included, but not `sendto`/`recvfrom`/`sendmsg`/`recvmsg`), or undefined when
 * the process is gone.
 */
export function ioChars(pid: number): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/io`, "utf8");
    const r = /^rchar:\s+(\d+)/m.exec(text);
    const w = /^wchar:\s+(\d+)/m.exec(text);
    return r && w ? Number(r[1]) + Number(w[1]) : undefined;
  } catch {
    return undefined;
  }
}
