/**
 * The `webhook` handler: POSTs what a Conclave handler is given (the stdin document with the
 * `CONCLAVE_*` environment added as `env`) to a URL, signed with HMAC-SHA256, so any HTTP
 * service can react to cluster events. See {@link USAGE}.
 *
 * Invariants:
 * - Settings are validated before standard input is read or a connection opened, so a bad
 *   setting is always exit 2 with one line naming it, and nothing was sent.
 * - Exit 0 only for a 2xx answer to the one POST; anything else (non-2xx, refused, reset,
 *   no answer within `--timeout`) is exit 1 so the runner retries with the same
 *   `X-Conclave-Event-Id` (and a newer `X-Conclave-Fence`).
 * - The URL's path, query and credentials and the secret never appear in the output, which
 *   the leader records in the event log (a webhook URL often carries a token in its path).
 * - At most {@link BODY_SNIPPET_BYTES} of a failed answer's body are read and printed.
 */
import { createHmac } from "node:crypto";
import { readFileSync } from "node:fs";
import { type ClientRequest, request as httpRequest, type IncomingMessage } from "node:http";
import { request as httpsRequest } from "node:https";
import { DurationError, formatDuration, parseDuration } from "../../src/config/duration.ts";
import { HANDLER_ENV_NAMES } from "../../src/contract/handler-env.ts";
import { parseHandlerEnv, parseHandlerStdin, readStdin, runMain } from "./handler-input.ts";
import { HandlerSettingsError, parseHandlerSettings, settingsOrExit } from "./handler-settings.ts";

const NAME = "webhook";

/** How much of a non-2xx answer's body is shown on stderr. */
export const BODY_SNIPPET_BYTES = 200;

/** The default `--timeout`. */
export const DEFAULT_TIMEOUT_MS = 10_000;

/** The header carrying `sha256=HEX`, the HMAC-SHA256 of the raw body keyed with the secret. */
export const SIGNATURE_HEADER = "X-Conclave-Signature";

/** The usage text printed by `--help` and after a usage error. */
export const USAGE = `Usage: webhook --url URL --secret-file FILE [--timeout DURATION] [--ca-file FILE]

A Conclave handler that POSTs the event to an HTTP(S) endpoint. Subscribe it to any events
(handlers[].run in conclave.yaml); it reads the CONCLAVE_* environment and the JSON
document on standard input, and sends one request:

  POST URL
  Content-Type: application/json
  X-Conclave-Signature: sha256=HEX    HMAC-SHA256 of the raw body, keyed with the secret
  X-Conclave-Event-Id: ID             CONCLAVE_EVENT_ID: the same on every retry
  X-Conclave-Fence: TERM:INDEX        CONCLAVE_FENCE: larger on each later attempt
  X-Conclave-Event, X-Conclave-Handler, X-Conclave-Attempt: the other CONCLAVE_* values

  {"event": {...}, "members": [...], "env": {"CONCLAVE_EVENT": "member-down", ...}}

The body is the standard input document unchanged, plus "env": the ten CONCLAVE_*
variables of the handler contract as strings. A receiver should verify the signature
(compare in constant time), then be idempotent: one event may be delivered again (a
retry, or a new attempt after a leader failover, with a larger fence), so act at most once
per (event id, handler); a receiver that applies "members" as the desired state should
ignore a request whose fence is below the highest fence it has applied.

Settings (a flag wins over its environment variable):
  --url URL            WEBHOOK_URL          where to POST: http:// or https://
  --secret-file FILE   WEBHOOK_SECRET_FILE  the shared secret (the file's content, with
                                            leading and trailing white space removed)
  --timeout DURATION   WEBHOOK_TIMEOUT      the whole request, connect to answer
                                            (default 10s; keep it below the handler's
                                            timeout in conclave.yaml)
  --ca-file FILE       WEBHOOK_CA_FILE      CA certificate(s) (PEM) to trust for https
                                            instead of the system ones
  -h, --help                                print this text

Redirects are not followed. Neither the URL's path and query nor the secret is printed:
the handler's output is recorded in the event log.

Exit status: 0 the endpoint answered 2xx; 1 anything else worth retrying (a non-2xx
answer: its status and the first ${BODY_SNIPPET_BYTES} bytes of its body are printed; the endpoint
unreachable or not answering within the timeout; bad handler input); 2 bad usage or a bad
setting.
`;

/** A bad flag, environment variable or setting; exit 2. `usage`: print the usage text too. */
export class WebhookSettingsError extends HandlerSettingsError {
  override readonly name = "WebhookSettingsError";
}

/** The request could not be completed: refused, reset, name not found, or no answer in time. */
export class WebhookDeliveryError extends Error {
  override readonly name = "WebhookDeliveryError";
}

/** The endpoint answered with a status other than 2xx. */
export class WebhookStatusError extends Error {
  override readonly name = "WebhookStatusError";
}

/** The validated settings. */
export interface WebhookSettings {
  readonly url: URL;
  /** The secret, trimmed; never empty. */
  readonly secret: Buffer;
  readonly timeoutMs: number;
  /** PEM text of `--ca-file`, or null for the system's CAs. */
  readonly ca: string | null;
}

/** Each setting's flag and environment variable. */
const SETTINGS = {
  url: "WEBHOOK_URL",
  "secret-file": "WEBHOOK_SECRET_FILE",
  timeout: "WEBHOOK_TIMEOUT",
  "ca-file": "WEBHOOK_CA_FILE",
} as const;

type Setting = keyof typeof SETTINGS;

const label = (s: Setting) => `--${s} (${SETTINGS[s]})`;

/** The file's text, or a {@link WebhookSettingsError} naming the setting. */
function readSettingFile(s: Setting, path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new WebhookSettingsError(`${label(s)}: cannot read ${path}: ${err.code ?? err.message}`);
  }
}

/**
 * Parse `argv` (without node and the script) and `env`; read the secret and CA files.
 * Returns `"help"` for `--help`.
 * @throws WebhookSettingsError for an unknown flag, a missing, malformed or unreadable setting.
 */
export function parseWebhookSettings(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): WebhookSettings | "help" {
  const parsed = parseHandlerSettings({
    argv,
    env,
    settings: SETTINGS,
    error: (message, usage) => new WebhookSettingsError(message, usage),
  });
  if (parsed === "help") return "help";
  const { get, need } = parsed;

  const urlText = need("url");
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    // The text is not echoed: a webhook URL may carry a token.
    throw new WebhookSettingsError(`${label("url")} is not an absolute http:// or https:// URL`);
  }
  if ((url.protocol !== "http:" && url.protocol !== "https:") || url.hostname === "") {
    throw new WebhookSettingsError(
      `${label("url")} must be an http:// or https:// URL with a host, got ${url.protocol}`,
    );
  }

  const secretFile = need("secret-file");
  const secret = readSettingFile("secret-file", secretFile).trim();
  if (secret === "") throw new WebhookSettingsError(`${label("secret-file")}: ${secretFile} is empty`);

  let timeoutMs = DEFAULT_TIMEOUT_MS;
  const timeoutText = get("timeout");
  if (timeoutText !== undefined) {
    try {
      timeoutMs = parseDuration(timeoutText);
    } catch (e) {
      throw new WebhookSettingsError(`${label("timeout")}: ${(e as DurationError).message}`);
    }
    if (timeoutMs < 1) throw new WebhookSettingsError(`${label("timeout")} must be more than 0`);
  }

  const caFile = get("ca-file");
  const ca = caFile === undefined ? null : readSettingFile("ca-file", caFile);
  if (ca !== null && !ca.includes("-----BEGIN CERTIFICATE-----")) {
    throw new WebhookSettingsError(`${label("ca-file")}: ${caFile} holds no PEM certificate`);
  }
  return { url, secret: Buffer.from(secret, "utf8"), timeoutMs, ca };
}

/** `sha256=HEX`: the value of {@link SIGNATURE_HEADER} for `body`. */
export function signBody(body: Buffer, secret: Buffer): string {
  return `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;
}

/** What the request is sent to, safe to print: scheme, host and port only. */
function where(url: URL): string {
  return url.origin;
}

/** Read at most `max` bytes of `res`, then stop reading (the rest is never downloaded). */
function readSnippet(res: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = () => resolve(Buffer.concat(chunks).subarray(0, max));
    res.on("data", (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size >= max) res.destroy(); // emits close, which finishes
    });
    res.once("end", finish);
    res.once("close", finish);
    res.once("error", finish);
  });
}

/** The answer to a delivered request. */
export interface WebhookAnswer {
  readonly status: number;
  readonly statusText: string;
  /** The first {@link BODY_SNIPPET_BYTES} of the body for a non-2xx answer; empty for 2xx. */
  readonly snippet: Buffer;
}

/**
 * POST `body` with `headers` to `settings.url`, the whole exchange (connect, send, status
 * line, and the snippet of a failed answer) bounded by the timeout.
 * @throws WebhookDeliveryError when no answer arrived (refused, reset, unknown host, timeout).
 */
export function deliver(
  settings: WebhookSettings,
  headers: Readonly<Record<string, string>>,
  body: Buffer,
): Promise<WebhookAnswer> {
  const { url, timeoutMs } = settings;
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    // Settles once: the first of an answer, an error and the deadline wins.
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    let req: ClientRequest | undefined;
    const end = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req?.destroy();
      outcome();
    };
    const fail = (message: string) => end(() => reject(new WebhookDeliveryError(message)));
    try {
      req = send(url, {
        method: "POST",
        headers: { ...headers, "Content-Length": String(body.length), Connection: "close" },
        ...(settings.ca !== null ? { ca: settings.ca } : {}),
      });
    } catch (e) {
      fail(`could not send to ${where(url)}: ${(e as Error).message}`);
      return;
    }
    timer = setTimeout(
      () => fail(`no answer from ${where(url)} within ${formatDuration(timeoutMs)} (--timeout)`),
      timeoutMs,
    );
    req.on("error", (e: NodeJS.ErrnoException) =>
      fail(
        `could not reach ${where(url)}: ${e.code && !e.message.includes(e.code) ? `${e.code} ` : ""}${e.message}`,
      ),
    );
    req.on("response", (res) => {
      const status = res.statusCode ?? 0;
      const answer = (snippet: Buffer) =>
        end(() => {
          res.destroy();
          resolve({ status, statusText: res.statusMessage ?? "", snippet });
        });
      if (status >= 200 && status <= 299) answer(Buffer.alloc(0));
      else void readSnippet(res, BODY_SNIPPET_BYTES).then(answer);
    });
    req.end(body);
  });
}

/** Run the handler with the process's arguments, environment and standard input; returns the exit code. */
export async function main(): Promise<number> {
  const parsed = settingsOrExit(NAME, USAGE, () => parseWebhookSettings(process.argv.slice(2), process.env));
  if (parsed.kind === "exit") return parsed.code;
  const settings = parsed.settings;
  const env = parseHandlerEnv(process.env);
  const text = await readStdin();
  parseHandlerStdin(text); // refuses a malformed document; the original is sent as it is
  const doc = JSON.parse(text) as Record<string, unknown>;
  // The variables of the handler contract (docs/handler-contract.md), copied into the body's `env` (and only those).
  const contractEnv = Object.fromEntries(HANDLER_ENV_NAMES.map((k) => [k, process.env[k] ?? ""]));
  const body = Buffer.from(JSON.stringify({ ...doc, env: contractEnv }), "utf8");
  const headers = {
    "Content-Type": "application/json",
    "User-Agent": "conclave-webhook",
    [SIGNATURE_HEADER]: signBody(body, settings.secret),
    "X-Conclave-Event-Id": String(env.eventId),
    "X-Conclave-Fence": env.fence,
    "X-Conclave-Event": env.event,
    "X-Conclave-Handler": env.handler,
    "X-Conclave-Attempt": String(env.attempt),
  };
  const answer = await deliver(settings, headers, body);
  const what = `${env.event} event ${env.eventId} (fence ${env.fence}, attempt ${env.attempt})`;
  if (answer.status < 200 || answer.status > 299) {
    const snippet = answer.snippet.toString("utf8").trim();
    throw new WebhookStatusError(
      `${where(settings.url)} answered ${answer.status} ${answer.statusText} to ${what}` +
        (answer.status >= 300 && answer.status <= 399 ? " (redirects are not followed)" : "") +
        (snippet ? `: ${snippet}` : ""),
    );
  }
  process.stdout.write(`${NAME}: ${where(settings.url)} answered ${answer.status} to ${what}\n`);
  return 0;
}

runMain(NAME, main);
