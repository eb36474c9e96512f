/**
 * The webhook handler (handlers/src/webhook.ts) run as a child process, the way the leader
 * runs it: the CONCLAVE_* environment, the JSON view on stdin. A local node:http (or https)
 * receiver checks the HMAC signature itself and answers as each test needs.
 *
 * Timing: only the timeout test measures time, and only that the handler gave up no earlier
 * than --timeout and well before the default 10s.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { memberDownEnv } from "../support/handler-env.ts";
import { handlerArgv } from "../support/conclave-entry.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SECRET = "s3cret-shared-with-the-receiver";

const dir = mkdtempSync(join(tmpdir(), "conclave-webhook-"));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

/** A file in the test's temporary directory holding `text`. */
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const secretFile = file("secret", `${SECRET}\n`); // trailing newline: the handler trims it

/** What the leader gives the handler: a member-down event and the committed member view. */
const STDIN_DOC = {
  event: {
    id: 42,
    term: 3,
    time: "2025-01-02T03:04:05.000Z",
    type: "member-down",
    member: "web2",
    service: null,
    details: { last_report_ms: 1800 },
    hash: "9f2c0e5b",
  },
  members: [
    { name: "web1", address: "10.0.0.1:7400", status: "up", checks: { nginx: "passing" }, services: {} },
    { name: "web2", address: "10.0.0.2:7400", status: "down", checks: { nginx: "failing" }, services: {} },
  ],
};

const CONCLAVE_ENV = memberDownEnv();

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Run the handler with `args`, the contract environment plus `env`, and `stdin`. */
function runHandler(
  args: readonly string[],
  env: Record<string, string> = {},
  stdin = JSON.stringify(STDIN_DOC),
): Promise<Result> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, handlerArgv("webhook", args), {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...CONCLAVE_ENV, ...env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    // A safety net only: a broken handler must not hang the suite.
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
    child.stdin.on("error", () => {}); // the handler may exit before reading (bad settings)
    child.stdin.end(stdin);
  });
}

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: Buffer;
  signatureOk: boolean;
}

type Respond = (req: Received, res: ServerResponse) => void;

/** The receiver's check: `sha256=HEX` of the raw body with its own copy of the secret. */
function signatureOk(body: Buffer, header: string | string[] | undefined): boolean {
  const want = Buffer.from(`sha256=${createHmac("sha256", SECRET).update(body).digest("hex")}`);
  const got = Buffer.from(typeof header === "string" ? header : "");
  return got.length === want.length && timingSafeEqual(got, want);
}

/** A receiver that refuses a bad signature with 401 and otherwise answers with `respond`. */
async function receiver(
  t: { teardown: (fn: () => void) => void },
  respond: Respond = (_r, res) => res.end("ok"),
  tls?: { key: string; cert: string },
): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const r: Received = {
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body,
        signatureOk: signatureOk(body, req.headers["x-conclave-signature"]),
      };
      received.push(r);
      if (!r.signatureOk) {
        res.statusCode = 401;
        res.end("bad signature");
        return;
      }
      respond(r, res);
    });
  };
  const server: Server = tls ? createHttpsServer(tls, handle) : createHttpServer(handle);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  return { url: `${tls ? "https" : "http"}://127.0.0.1:${port}/hooks/conclave`, received };
}

test("posts the stdin document plus env, signed, with the idempotency headers; exit 0", async (t) => {
  const rx = await receiver(t, (_r, res) => {
    res.statusCode = 204;
    res.end();
  });
  const r = await runHandler(["--url", rx.url, "--secret-file", secretFile]);
  t.is(r.code, 0, r.stderr);
  t.is(rx.received.length, 1);
  const got = rx.received[0]!;
  t.true(got.signatureOk);
  t.is(got.method, "POST");
  t.is(got.url, "/hooks/conclave");
  t.is(got.headers["content-type"], "application/json");
  t.is(got.headers["x-conclave-event-id"], "42");
  t.is(got.headers["x-conclave-fence"], "3:57");
  t.is(got.headers["x-conclave-event"], "member-down");
  t.is(got.headers["x-conclave-handler"], "notify");
  t.is(got.headers["x-conclave-attempt"], "2");
  t.deepEqual(JSON.parse(got.body.toString("utf8")), { ...STDIN_DOC, env: CONCLAVE_ENV });
  t.regex(r.stdout, /answered 204 to member-down event 42 \(fence 3:57, attempt 2\)/);
});

test("settings come from WEBHOOK_* variables; a flag wins over its variable", async (t) => {
  const rx = await receiver(t);
  const fromEnv = await runHandler([], {
    WEBHOOK_URL: rx.url,
    WEBHOOK_SECRET_FILE: secretFile,
    WEBHOOK_TIMEOUT: "5s",
  });
  t.is(fromEnv.code, 0, fromEnv.stderr);
  const flagWins = await runHandler(["--url", rx.url], {
    WEBHOOK_URL: "http://127.0.0.1:9/not-this-one",
    WEBHOOK_SECRET_FILE: secretFile,
  });
  t.is(flagWins.code, 0, flagWins.stderr);
  t.is(rx.received.length, 2);
  t.true(rx.received.every((r) => r.signatureOk));
});

test("a wrong secret is refused by the receiver: exit 1 with the status and body", async (t) => {
  const rx = await receiver(t);
  const r = await runHandler(["--url", rx.url, "--secret-file", file("wrong", "not-the-secret")]);
  t.is(r.code, 1);
  t.is(rx.received.length, 1);
  t.false(rx.received[0]!.signatureOk);
  t.regex(
    r.stderr,
    /^webhook: http:\/\/127\.0\.0\.1:\d+ answered 401 Unauthorized to member-down event 42.*: bad signature\n$/,
  );
});

test("a 500 exits 1 with the status and only the first 200 bytes of the body; the URL path is not printed", async (t) => {
  const rx = await receiver(t, (_r, res) => {
    res.statusCode = 500;
    res.end(`${"E".repeat(150)}${"F".repeat(5000)}`);
  });
  const r = await runHandler([
    "--url",
    `${rx.url}/TOKEN-IN-PATH?key=TOKEN-IN-QUERY`,
    "--secret-file",
    secretFile,
  ]);
  t.is(r.code, 1);
  t.regex(r.stderr, /answered 500 Internal Server Error/);
  t.true(r.stderr.includes(`${"E".repeat(150)}${"F".repeat(50)}\n`), r.stderr);
  t.false(r.stderr.includes("F".repeat(51)));
  t.false(/TOKEN-IN-(PATH|QUERY)/.test(r.stderr + r.stdout));
});

test("a redirect is not followed: exit 1", async (t) => {
  const rx = await receiver(t, (_r, res) => {
    res.writeHead(307, { Location: "http://127.0.0.1:9/elsewhere" });
    res.end();
  });
  const r = await runHandler(["--url", rx.url, "--secret-file", secretFile]);
  t.is(r.code, 1);
  t.regex(r.stderr, /answered 307 .*redirects are not followed/);
});

test("a receiver that never answers: exit 1 after --timeout", async (t) => {
  const rx = await receiver(t, () => {
    // Hold the request open and never answer.
  });
  const r = await runHandler(["--url", rx.url, "--secret-file", secretFile, "--timeout", "700ms"]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^webhook: no answer from http:\/\/127\.0\.0\.1:\d+ within 700ms \(--timeout\)\n$/);
  t.true(r.ms >= 700, `ended after ${r.ms} ms`);
  t.true(r.ms < 10_000, `ended after ${r.ms} ms: --timeout was not applied`);
});

test("an unreachable receiver: exit 1 with a clear message", async (t) => {
  // A port that was just free: nothing listens there.
  const probe = createHttpServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  const r = await runHandler(["--url", `http://127.0.0.1:${port}/`, "--secret-file", secretFile]);
  t.is(r.code, 1);
  t.regex(r.stderr, /^webhook: could not reach http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
});

test("bad settings exit 2 naming the setting, and send nothing", async (t) => {
  const rx = await receiver(t);
  const cases: [string, string[], Record<string, string>, RegExp][] = [
    ["no URL", ["--secret-file", secretFile], {}, /--url \(WEBHOOK_URL\) is required/],
    [
      "not a URL",
      ["--url", "not a url", "--secret-file", secretFile],
      {},
      /--url \(WEBHOOK_URL\) is not an absolute/,
    ],
    [
      "not http",
      [],
      { WEBHOOK_URL: "ftp://127.0.0.1/x", WEBHOOK_SECRET_FILE: secretFile },
      /--url \(WEBHOOK_URL\) must be an http/,
    ],
    ["no secret file", ["--url", rx.url], {}, /--secret-file \(WEBHOOK_SECRET_FILE\) is required/],
    [
      "unreadable secret file",
      ["--url", rx.url, "--secret-file", join(dir, "missing")],
      {},
      /--secret-file \(WEBHOOK_SECRET_FILE\): cannot read .*missing: ENOENT/,
    ],
    [
      "empty secret",
      ["--url", rx.url, "--secret-file", file("empty", " \n")],
      {},
      /--secret-file .* is empty/,
    ],
    [
      "bare number timeout",
      ["--url", rx.url, "--secret-file", secretFile, "--timeout", "10"],
      {},
      /--timeout \(WEBHOOK_TIMEOUT\): bare number/,
    ],
    [
      "zero timeout",
      ["--url", rx.url, "--secret-file", secretFile],
      { WEBHOOK_TIMEOUT: "0s" },
      /--timeout \(WEBHOOK_TIMEOUT\) must be more than 0/,
    ],
    [
      "CA file without a certificate",
      ["--url", rx.url, "--secret-file", secretFile, "--ca-file", secretFile],
      {},
      /--ca-file \(WEBHOOK_CA_FILE\): .* holds no PEM certificate/,
    ],
    [
      "unknown flag",
      ["--url", rx.url, "--secret-file", secretFile, "--retries", "3"],
      {},
      /Unknown option '--retries'[\s\S]*Usage: webhook/,
    ],
  ];
  for (const [what, args, env, message] of cases) {
    const r = await runHandler(args, env);
    t.is(r.code, 2, `${what}: ${r.stderr}`);
    t.regex(r.stderr, message, what);
    t.regex(r.stderr, /^webhook: /, what);
  }
  t.is(rx.received.length, 0);
});

test("--help prints the usage on stdout and exits 0", async (t) => {
  const r = await runHandler(["--help"], {}, "");
  t.is(r.code, 0);
  t.regex(r.stdout, /^Usage: webhook --url URL --secret-file FILE/);
  t.regex(r.stdout, /X-Conclave-Signature: sha256=HEX/);
  t.is(r.stderr, "");
});

test("bad handler input exits 1 (the runner retries) and sends nothing", async (t) => {
  const rx = await receiver(t);
  const args = ["--url", rx.url, "--secret-file", secretFile];
  const notJson = await runHandler(args, {}, "not json");
  t.is(notJson.code, 1);
  t.regex(notJson.stderr, /^webhook: standard input is not JSON/);
  const noFence = await runHandler(args, { CONCLAVE_FENCE: "" });
  t.is(noFence.code, 1);
  t.regex(noFence.stderr, /CONCLAVE_FENCE must be TERM:INDEX/);
  t.is(rx.received.length, 0);
});

const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
if (!hasOpenssl) console.log("handler-webhook: https test skipped: no openssl to make a test certificate");

(hasOpenssl ? test : test.skip)(
  "https: trusted through --ca-file; refused without it (exit 1)",
  async (t) => {
    const key = join(dir, "tls-key.pem");
    const cert = join(dir, "tls-cert.pem");
    const made = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        .concat(["-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1"])
        .concat(["-addext", "subjectAltName=IP:127.0.0.1"]),
      { encoding: "utf8" },
    );
    t.is(made.status, 0, made.stderr);
    const rx = await receiver(t, (_r, res) => res.end("ok"), {
      key: readFileSync(key, "utf8"),
      cert: readFileSync(cert, "utf8"),
    });
    const trusted = await runHandler(["--url", rx.url, "--secret-file", secretFile, "--ca-file", cert]);
    t.is(trusted.code, 0, trusted.stderr);
    t.regex(trusted.stdout, /^webhook: https:\/\/127\.0\.0\.1:\d+ answered 200/);
    const untrusted = await runHandler(["--url", rx.url, "--secret-file", secretFile]);
    t.is(untrusted.code, 1);
    t.regex(untrusted.stderr, /could not reach https:\/\/127\.0\.0\.1:\d+: .*(self-signed|SELF_SIGNED)/i);
    t.is(rx.received.length, 1);
    t.true(rx.received[0]!.signatureOk);
  },
);
