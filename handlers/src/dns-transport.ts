/**
 * Sending one DNS message to a server and getting its answer: over UDP, resent a few times
 * within the timeout, and over TCP when the answer comes back truncated (TC) or the message
 * is too big for plain UDP (RFC 1035 section 4.2, RFC 7766).
 *
 * Invariants:
 * - Only an answer whose id is the request's id is returned; other datagrams are ignored.
 * - Every socket opened is closed before the returned promise settles, and no timer is left.
 * - Failures are {@link DnsTransportError}s naming the server, the transport and the cause.
 */
import { createSocket } from "node:dgram";
import { lookup } from "node:dns/promises";
import { isIP, Socket } from "node:net";
import { isTruncated } from "./dns-wire.ts";

/** Where to send: a host (IP literal or name) and port. */
export interface DnsServer {
  readonly host: string;
  readonly port: number;
}

/** Options of {@link exchange}. */
export interface ExchangeOptions {
  /** How long to wait for the answer, per transport (UDP, then TCP if needed). */
  readonly timeoutMs: number;
}

/** The server could not be reached or did not answer in time. */
export class DnsTransportError extends Error {
  override readonly name = "DnsTransportError";
}

/** Largest message sent over UDP without EDNS (RFC 1035 section 4.2.1). */
const UDP_MAX = 512;

/** `host:port`, IPv6 in brackets. */
export function serverText(s: DnsServer): string {
  return s.host.includes(":") ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

async function resolve(server: DnsServer): Promise<{ address: string; family: 4 | 6 }> {
  const v = isIP(server.host);
  if (v === 4 || v === 6) return { address: server.host, family: v };
  try {
    const r = await lookup(server.host);
    return { address: r.address, family: r.family === 6 ? 6 : 4 };
  } catch (e) {
    throw new DnsTransportError(
      `cannot resolve DNS server name ${server.host}: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === "ECONNREFUSED")
    return "connection refused (ECONNREFUSED): is the server running on that port?";
  return err.code ? `${err.message} (${err.code})` : String(err.message ?? e);
}

const idOf = (b: Uint8Array) => (b.length >= 2 ? (b[0]! << 8) | b[1]! : -1);

/** Settles an exchange's promise: with `answer` when `err` is null. */
type Finish = (err: Error | null, answer?: Buffer) => void;

/**
 * One exchange over one socket, as a promise settled once: by `finish`, called from the
 * socket's handlers that `start` attaches, or with a {@link DnsTransportError} when the socket
 * reports an error or no answer came within the timeout. On settling, the deadline is cleared
 * and `close` releases the socket (and anything of the transport's own).
 */
function settleOnce(
  server: DnsServer,
  transport: "UDP" | "TCP",
  o: ExchangeOptions,
  sock: { on(event: "error", listener: (e: Error) => void): unknown },
  close: () => void,
  start: (finish: Finish, isDone: () => boolean) => void,
): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    let done = false;
    const finish: Finish = (err, answer) => {
      if (done) return;
      done = true;
      clearTimeout(deadline);
      close();
      if (err) reject(err);
      else resolve(answer!);
    };
    const deadline = setTimeout(
      () =>
        finish(
          new DnsTransportError(
            `no answer from DNS server ${serverText(server)} within ${o.timeoutMs} ms (${transport})`,
          ),
        ),
      o.timeoutMs,
    );
    sock.on("error", (e) =>
      finish(
        new DnsTransportError(
          `cannot reach DNS server ${serverText(server)} over ${transport}: ${describe(e)}`,
        ),
      ),
    );
    start(finish, () => done);
  });
}

function overUdp(server: DnsServer, address: string, family: 4 | 6, wire: Uint8Array, o: ExchangeOptions) {
  const sock = createSocket(family === 6 ? "udp6" : "udp4");
  const id = idOf(wire);
  // Resend a lost datagram: three sends spread over the timeout (at most one per second).
  const every = Math.min(1000, Math.max(100, Math.floor(o.timeoutMs / 3)));
  let resend: NodeJS.Timeout | undefined;
  const close = () => {
    clearInterval(resend);
    sock.close();
  };
  return settleOnce(server, "UDP", o, sock, close, (finish, isDone) => {
    sock.on("message", (msg) => {
      if (idOf(msg) === id) finish(null, msg);
    });
    // A connected socket gets ICMP "port unreachable" reported as ECONNREFUSED.
    sock.connect(server.port, address, () => {
      const send = () => {
        if (!isDone()) sock.send(wire, (e) => e && sock.emit("error", e));
      };
      send();
      resend = setInterval(send, every);
    });
  });
}

function overTcp(server: DnsServer, address: string, wire: Uint8Array, o: ExchangeOptions) {
  const sock = new Socket();
  let got = Buffer.alloc(0);
  return settleOnce(
    server,
    "TCP",
    o,
    sock,
    () => sock.destroy(),
    (finish) => {
      sock.on("close", () =>
        finish(
          new DnsTransportError(
            `DNS server ${serverText(server)} closed the TCP connection without an answer`,
          ),
        ),
      );
      sock.on("data", (d: Buffer) => {
        got = Buffer.concat([got, d]);
        // Each message is preceded by its length; skip any whose id is not ours.
        while (got.length >= 2 && got.length >= 2 + got.readUInt16BE(0)) {
          const msg = got.subarray(2, 2 + got.readUInt16BE(0));
          got = got.subarray(2 + msg.length);
          if (idOf(msg) === idOf(wire)) return finish(null, Buffer.from(msg));
        }
      });
      sock.connect(server.port, address, () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(wire.length);
        sock.write(Buffer.concat([len, wire]));
      });
    },
  );
}

/**
 * Send `wire` (an encoded request) to `server` and return the raw answer with the same id.
 * @throws DnsTransportError when the server cannot be reached or does not answer in time.
 */
export async function exchange(server: DnsServer, wire: Uint8Array, o: ExchangeOptions): Promise<Buffer> {
  const { address, family } = await resolve(server);
  if (wire.length <= UDP_MAX) {
    const answer = await overUdp(server, address, family, wire, o);
    if (!isTruncated(answer)) return answer;
  }
  return overTcp(server, address, wire, o);
}
