/**
 * Whether a node speaks TLS, for the hint a client command without `--tls-*` gives when it
 * cannot reach a TLS cluster: grpc-js only says `No connection established`, since a
 * plaintext HTTP/2 preface sent to a TLS server just gets the connection closed.
 *
 * The probe starts a TLS handshake (trusting any certificate: it only asks whether the other
 * end answers in TLS, and sends nothing after the handshake) and closes the connection.
 */
import { isIP } from "node:net";
import { connect } from "node:tls";
import { splitHostPort } from "../config/host-port.ts";

/** How long the probe waits for the handshake. */
const PROBE_TIMEOUT_MS = 2000;

/**
 * Resolve true when the server at `addr` (`host:port`) answers a TLS handshake: it completes,
 * or the server ends it with a TLS alert (e.g. it wants a client certificate). False for
 * anything else: a plaintext server, no server, no answer within `timeoutMs`.
 */
export function speaksTls(addr: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  let host: string;
  let port: number;
  try {
    ({ host, port } = splitHostPort(addr));
  } catch {
    return Promise.resolve(false);
  }
  return new Promise((resolve) => {
    const socket = connect({
      host,
      port,
      // No SNI for an IP address (RFC 6066; Node warns, DEP0123).
      ...(isIP(host) ? {} : { servername: host }),
      ALPNProtocols: ["h2"],
      rejectUnauthorized: false,
    });
    const done = (tls: boolean) => {
      clearTimeout(timer);
      socket.removeAllListeners("secureConnect");
      socket.on("error", () => {});
      socket.destroy();
      resolve(tls);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("secureConnect", () => done(true));
    socket.once("error", (e: NodeJS.ErrnoException) => done(/^ERR_SSL_.*ALERT/.test(e.code ?? "")));
  });
}
