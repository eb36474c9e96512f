/**
 * The `mail` handler: one plain-text mail per event, handed to the local MTA through
 * `sendmail -t -oi` (postfix, exim, msmtp-mta and nullmailer all provide it), so delivery,
 * queueing and relaying are the MTA's job. The Message-ID is the same on every attempt of one
 * (event, handler), so a mail re-sent after an unknown outcome (a leader crash mid-run) can
 * be recognised as the same one by a mail client or a filter.
 *
 * Exit codes: 0 sendmail accepted the mail; 1 sendmail failed, or bad handler input (the
 * runner retries); 2 a bad setting (no retry can fix it).
 */
import { hostname } from "node:os";
import { headline, oneLine, report } from "./event-summary.ts";
import { type HandlerInput, readHandlerInput, runMain } from "./handler-input.ts";
import { HandlerSettingsError, parseHandlerSettings, settingsOrExit } from "./handler-settings.ts";
import { runToSuccess } from "./run-program.ts";

const NAME = "mail";

/** The usage text printed by `--help` and after a usage error. */
export const USAGE = `Usage: mail --to ADDRESS[,ADDRESS...] [--from ADDRESS] [--sendmail PATH] [--subject-prefix TEXT]

Sends one plain-text mail per event it is run for, through sendmail -t -oi: the
event, the member, its details, and the committed member view.

  --to ADDRESSES        recipients, comma-separated (MAIL_TO)
  --from ADDRESS        the sender (MAIL_FROM; default conclave@HOSTNAME)
  --sendmail PATH       the sendmail program (MAIL_SENDMAIL; default /usr/sbin/sendmail)
  --subject-prefix TEXT put before the subject (MAIL_SUBJECT_PREFIX; default [conclave])
  -h, --help            this text

The Message-ID is <conclave.EVENT_ID.HANDLER.CLUSTER@conclave>: the same on every attempt
of one event and handler. Exit codes: 0 sent; 1 sendmail failed or bad handler input
(retried); 2 a bad setting.
`;

const SETTINGS = {
  to: "MAIL_TO",
  from: "MAIL_FROM",
  sendmail: "MAIL_SENDMAIL",
  "subject-prefix": "MAIL_SUBJECT_PREFIX",
} as const;

/** The validated settings. */
export interface MailSettings {
  readonly to: readonly string[];
  readonly from: string;
  readonly sendmail: string;
  readonly subjectPrefix: string;
}

// A plain addr-spec: no spaces, quotes, angle brackets or line breaks, so it is safe in a header.
const ADDRESS = /^[^\s@<>(),;:"[\]\\]+@[^\s@<>(),;:"[\]\\]+$/;

/**
 * Parse `argv` (without node and the script) and `env`. Returns `"help"` for `--help`.
 * @throws HandlerSettingsError naming the setting
 */
export function parseMailSettings(argv: readonly string[], env: NodeJS.ProcessEnv): MailSettings | "help" {
  const parsed = parseHandlerSettings({ argv, env, settings: SETTINGS });
  if (parsed === "help") return "help";
  const to = parsed
    .need("to")
    .split(",")
    .map((a) => a.trim())
    .filter((a) => a !== "");
  if (to.length === 0) throw new HandlerSettingsError("--to (MAIL_TO) names no address", true);
  for (const a of to) {
    if (!ADDRESS.test(a))
      throw new HandlerSettingsError(`--to (MAIL_TO): ${JSON.stringify(a)} is not a mail address`);
  }
  const from = parsed.get("from") ?? `conclave@${hostname()}`;
  if (!ADDRESS.test(from)) {
    throw new HandlerSettingsError(`--from (MAIL_FROM): ${JSON.stringify(from)} is not a mail address`);
  }
  const subjectPrefix = `${oneLine(parsed.get("subject-prefix") ?? "[conclave]")} `;
  return {
    to,
    from,
    sendmail: parsed.get("sendmail") ?? "/usr/sbin/sendmail",
    subjectPrefix,
  };
}

/** A Message-ID token: only characters an id-left may hold. */
const idPart = (s: string) => s.replace(/[^A-Za-z0-9!#$%&'*+/=?^_`{|}~-]/g, "_") || "_";

/** The whole message: headers, a blank line, the report. */
export function buildMail(settings: MailSettings, input: HandlerInput, now: Date = new Date()): string {
  const { env } = input;
  const subject = `${settings.subjectPrefix}${env.cluster ? `${oneLine(env.cluster)}: ` : ""}${headline(input)}`;
  return [
    `From: ${settings.from}`,
    `To: ${settings.to.join(", ")}`,
    `Subject: ${subject}`,
    `Date: ${now.toUTCString().replace("GMT", "+0000")}`,
    `Message-ID: <conclave.${input.event.id}.${idPart(env.handler)}.${idPart(env.cluster)}@conclave>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: 8bit",
    `X-Conclave-Event: ${oneLine(env.event)}`,
    `X-Conclave-Event-Id: ${env.eventId}`,
    `X-Conclave-Fence: ${oneLine(env.fence)}`,
    `X-Conclave-Attempt: ${env.attempt}`,
    "",
    report(input),
  ].join("\n");
}

/** Hand `message` to sendmail; resolves once it exited 0 (else a ProgramFailedError, exit 1). */
export async function sendmail(program: string, message: string): Promise<void> {
  await runToSuccess({
    path: program,
    args: ["-t", "-oi"],
    stdin: message,
    setting: "--sendmail (MAIL_SENDMAIL)",
    shown: `${program} -t -oi`,
  });
}

/** Run the handler with the process's arguments, environment and standard input; returns the exit code. */
export async function main(): Promise<number> {
  const parsed = settingsOrExit(NAME, USAGE, () => parseMailSettings(process.argv.slice(2), process.env));
  if (parsed.kind === "exit") return parsed.code;
  const input = await readHandlerInput();
  const env = input.env;
  await sendmail(parsed.settings.sendmail, buildMail(parsed.settings, input));
  process.stdout.write(
    `${NAME}: sent ${headline(input)} (event ${env.eventId}, attempt ${env.attempt}) to ${parsed.settings.to.join(", ")}\n`,
  );
  return 0;
}

runMain(NAME, main);
