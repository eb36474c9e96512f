/**
 * The node's HTTP port (config `http:`): the status page at `/` (with `/status.css` and
 * `/status.js`), its data at `/api/status`, Prometheus metrics at `/metrics`, and `/healthz`
 * (200 `ok`, or 503 naming the problems). Read-only and unauthenticated, like Consul's or
 * Patroni's: bind it to loopback or a management network (the agent warns when it is on any
 * other address). It reads no request bodies, answers only GET and HEAD, answers only to the
 * `Host` names of this node (421 otherwise: status-host.ts, against DNS rebinding), and each
 * answer is a fresh snapshot of the node.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname, networkInterfaces } from "node:os";
import type { Logger } from "pino";
import { splitHostPort } from "../config/host-port.ts";
import { NodeMetrics } from "./node-metrics.ts";
import { healthOf, type NodeViewSource, takeSnapshot } from "./node-view.ts";
import { hostProblem, isLoopbackHost, type StatusHostContext } from "./status-host.ts";
import { renderStatusMain, renderStatusPage, STATUS_CSS, STATUS_JS } from "./status-page.ts";

/** What {@link startStatusHttp} is given. */
export interface StatusHttpOptions {
  /** `host:port`, as the config's `http:` (validated there). */
  readonly listen: string;
  readonly source: NodeViewSource;
  readonly logger: Logger;
  /** This host's interface addresses, for a `0.0.0.0` / `::` listener's Host check (`os.networkInterfaces()` when absent). */
  readonly localAddresses?: (() => readonly string[]) | undefined;
  /** This host's name, for the Host check (`os.hostname()` when absent). */
  readonly hostname?: string | undefined;
}

/** A listening status server. */
export interface RunningStatusHttp {
  /** The bound port. */
  readonly port: number;
  close(): Promise<void>;
}

/** The HTTP port could not be opened (in use, not an address of this host, ...). */
export class StatusHttpBindError extends Error {
  override readonly name = "StatusHttpBindError";
}

/** On every answer. The page's style and script are its own files: nothing inline runs. */
const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
  "Content-Security-Policy":
    "default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; " +
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
};

const TEXT = "text/plain; charset=utf-8";
const HTML = "text/html; charset=utf-8";
/** The page's own files, served as they are, with no snapshot. */
const ASSETS: Readonly<Record<string, { type: string; body: string }>> = {
  "/status.css": { type: "text/css; charset=utf-8", body: STATUS_CSS },
  "/status.js": { type: "text/javascript; charset=utf-8", body: STATUS_JS },
};
/** What the port serves; anything else is a 404, answered without taking a snapshot. */
const ROUTES = new Set(["/", "/api/status", "/metrics", "/healthz", ...Object.keys(ASSETS)]);

function send(res: ServerResponse, req: IncomingMessage, status: number, type: string, body: string): void {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    "Content-Type": type,
    "Content-Length": Buffer.byteLength(body),
  });
  res.end(req.method === "HEAD" ? undefined : body);
}

/**
 * Open the HTTP port.
 * @throws StatusHttpBindError when the address cannot be bound
 */
export async function startStatusHttp(o: StatusHttpOptions): Promise<RunningStatusHttp> {
  const { host, port } = splitHostPort(o.listen);
  const metrics = new NodeMetrics({
    elector: o.source.elector !== undefined,
    member: o.source.member !== undefined,
  });
  const hosts: StatusHostContext = {
    listenHost: host,
    localAddresses:
      o.localAddresses ??
      (() => Object.values(networkInterfaces()).flatMap((l) => (l ?? []).map((a) => a.address))),
    hostname: o.hostname ?? hostname(),
  };
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const misdirected = hostProblem(req.headers.host, hosts);
    if (misdirected !== null) return send(res, req, 421, TEXT, misdirected);
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.setHeader("Allow", "GET, HEAD");
      return send(res, req, 405, TEXT, "method not allowed: the status port is read-only\n");
    }
    const url = new URL(req.url ?? "/", "http://status.invalid");
    if (!ROUTES.has(url.pathname)) return send(res, req, 404, TEXT, `not found: ${url.pathname}\n`);
    const asset = ASSETS[url.pathname];
    if (asset) return send(res, req, 200, asset.type, asset.body);
    const snap = await takeSnapshot(o.source);
    switch (url.pathname) {
      case "/":
        return send(
          res,
          req,
          200,
          HTML,
          url.searchParams.get("part") === "main" ? renderStatusMain(snap) : renderStatusPage(snap),
        );
      case "/api/status":
        return send(res, req, 200, "application/json", `${JSON.stringify(snap)}\n`);
      case "/metrics":
        return send(res, req, 200, metrics.registry.contentType, await metrics.text(snap));
      default: {
        // /healthz
        const h = healthOf(snap);
        return h.ok
          ? send(res, req, 200, TEXT, "ok\n")
          : send(res, req, 503, TEXT, `${h.problems.join("\n")}\n`);
      }
    }
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      o.logger.warn({ err, url: req.url }, "status page: request failed");
      if (!res.headersSent) send(res, req, 500, TEXT, "internal error; see the node's log\n");
      else res.destroy();
    });
  });
  // A status port needs no slow clients: short limits keep idle or trickling sockets cheap.
  server.headersTimeout = 10_000;
  server.requestTimeout = 15_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) => {
      metrics.close();
      reject(new StatusHttpBindError(`http: cannot listen on ${o.listen}: ${e.code ?? e.message}`));
    });
    server.listen(port, host, () => resolve());
  });
  server.on("error", (err) => o.logger.warn({ err }, "status page: server error"));
  const bound = (server.address() as AddressInfo).port;
  if (!isLoopbackHost(host)) {
    o.logger.warn(
      { http: o.listen },
      "the status page, /metrics and /healthz have no authentication: keep this address on a management network",
    );
  }
  o.logger.info({ http: `${host}:${bound}` }, "status page listening");
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        metrics.close();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
