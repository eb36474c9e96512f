/**
 * The demo's web servers (`conclave dev`): one tiny HTTP server per member, in the dev process
 * itself, standing for the application the member's `web` check watches. `GET /health` answers
 * `200 OK` until someone runs `curl -X POST URL/break`, then `503` until `curl -X POST URL/fix`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/** One member's demo web server. */
export interface DemoWeb {
  /** The member it stands for. */
  readonly member: string;
  readonly port: number;
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly base: string;
  /** Whether `/health` fails now. */
  readonly broken: boolean;
  close(): Promise<void>;
}

/** Listen on `port` of 127.0.0.1, or on any free port when it is taken. */
function listen(server: Server, port: number): Promise<number> {
  const on = (p: number) =>
    new Promise<number>((resolve, reject) => {
      const fail = (e: Error) => reject(e);
      server.once("error", fail);
      server.listen(p, "127.0.0.1", () => {
        server.off("error", fail);
        const a = server.address();
        resolve(typeof a === "object" && a ? a.port : p);
      });
    });
  return on(port).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "EADDRINUSE" && e.code !== "EACCES") throw e;
    return on(0);
  });
}

/**
 * Start `member`'s web server on `preferredPort` (another free port when that one is taken).
 * `say` hears one line whenever /break or /fix changes the state.
 */
export async function startDemoWeb(
  member: string,
  preferredPort: number,
  say: (line: string) => void,
): Promise<DemoWeb> {
  let broken = false;
  const reply = (res: ServerResponse, status: number, text: string) => {
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", connection: "close" });
    res.end(`${text}\n`);
  };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/health") {
      if (broken) reply(res, 503, `${member} is broken (curl -X POST ${web.base}/fix to repair it)`);
      else reply(res, 200, `OK ${member}`);
      return;
    }
    if (path === "/break" || path === "/fix") {
      if (req.method !== "POST") {
        reply(res, 405, `use: curl -X POST ${web.base}${path}`);
        return;
      }
      const want = path === "/break";
      if (broken !== want) {
        broken = want;
        say(
          want
            ? `${member}'s ${web.base}/health now answers 503: its "web" check fails after 2 runs`
            : `${member}'s ${web.base}/health answers 200 again: its "web" check passes after 2 runs`,
        );
      }
      reply(res, 200, `${member}: /health answers ${broken ? "503" : "200"}`);
      return;
    }
    reply(res, 404, `${member}'s demo web server: GET /health, POST /break, POST /fix`);
  });
  const port = await listen(server, preferredPort);
  const web: DemoWeb = {
    member,
    port,
    base: `http://127.0.0.1:${port}`,
    get broken() {
      return broken;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return web;
}
