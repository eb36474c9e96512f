/**
 * The application the members' HTTP checks probe: one tiny HTTP server in the campaign's
 * process, `GET /health/MEMBER` answering 200, or 503 while the nemesis has made that member's
 * application fail.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** A member's application started (`failing: true`) or stopped failing, at `at` (ns). */
export interface AppTransition {
  readonly member: string;
  readonly failing: boolean;
  readonly at: bigint;
}

/** The server and its switches. */
export class CheckServer {
  private readonly failing = new Set<string>();
  /** Every change of a member's application, on CLOCK_MONOTONIC (process.hrtime), in order. */
  readonly transitions: AppTransition[] = [];
  private constructor(
    private readonly server: Server,
    readonly port: number,
    readonly host = "127.0.0.1",
  ) {}

  /** Listen on `host` (127.0.0.1; a netns round gives the lab's bridge address) on a free port. */
  static async start(host = "127.0.0.1"): Promise<CheckServer> {
    let self: CheckServer | null = null;
    const server = createServer((req, res) => {
      const member = /^\/health\/([^/?]+)/.exec(req.url ?? "")?.[1] ?? "";
      const bad = self?.failing.has(member) ?? true;
      res.writeHead(bad ? 503 : 200, { "content-type": "text/plain" });
      res.end(bad ? "failing\n" : "ok\n");
    });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    self = new CheckServer(server, (server.address() as AddressInfo).port, host);
    return self;
  }

  /** The URL member `name`'s check probes. */
  url(name: string): string {
    return `http://${this.host}:${this.port}/health/${name}`;
  }

  /** Make member `name`'s application fail (true) or pass (false). */
  setFailing(name: string, failing: boolean): void {
    if (failing === this.failing.has(name)) return;
    if (failing) this.failing.add(name);
    else this.failing.delete(name);
    this.transitions.push({ member: name, failing, at: process.hrtime.bigint() });
  }

  isFailing(name: string): boolean {
    return this.failing.has(name);
  }

  /** Every application passes again. */
  healAll(): void {
    for (const m of [...this.failing]) this.setFailing(m, false);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
