/**
 * The `log` handler: records each event it is run for, as one JSON line appended to a file
 * (written with one append and fsynced before it exits 0), or as one line to syslog through
 * logger(1). A file is an audit trail people can read or ship elsewhere. Once an event is in
 * the file (same event id and handler), a later attempt does not add it again: a re-run after
 * an unknown outcome leaves one line, not two. Syslog cannot be asked, so there a re-run can
 * repeat the line, with its attempt number in it.
 *
 * Exit codes: 0 recorded (or already recorded); 1 the file or logger failed, or bad handler
 * input (the runner retries); 2 a bad setting.
 */
import { type FileHandle, open } from "node:fs/promises";
import { headline, memberCounts, oneLine } from "./event-summary.ts";
import { type HandlerInput, readHandlerInput, runMain } from "./handler-input.ts";
import { HandlerSettingsError, parseHandlerSettings, settingsOrExit } from "./handler-settings.ts";
import { runToSuccess } from "./run-program.ts";

const NAME = "log";

/** The usage text printed by `--help` and after a usage error. */
export const USAGE = `Usage: log (--file PATH | --syslog TAG) [--facility NAME] [--logger PATH]

Records each event it is run for.

  --file PATH      append one JSON line per event to PATH, fsynced (LOG_FILE); an event
                   already in the file (same event id and handler) is not added again
  --syslog TAG     send one line per event to syslog with this tag, through logger(1)
                   (LOG_SYSLOG); priority warning for member-down, check-failing and
                   handler-failed, notice otherwise
  --facility NAME  the syslog facility (LOG_FACILITY; default daemon)
  --logger PATH    the logger program (LOG_LOGGER; default logger, from util-linux)
  -h, --help       this text

Exit codes: 0 recorded; 1 the write or logger failed, or bad handler input (retried);
2 a bad setting.
`;

const SETTINGS = {
  file: "LOG_FILE",
  syslog: "LOG_SYSLOG",
  facility: "LOG_FACILITY",
  logger: "LOG_LOGGER",
} as const;

const FACILITIES = new Set([
  "kern",
  "user",
  "mail",
  "daemon",
  "auth",
  "syslog",
  "lpr",
  "news",
  "uucp",
  "cron",
  "authpriv",
  "ftp",
  "local0",
  "local1",
  "local2",
  "local3",
  "local4",
  "local5",
  "local6",
  "local7",
]);

/** Where the events go. */
export type LogSettings =
  | { readonly kind: "file"; readonly path: string }
  | { readonly kind: "syslog"; readonly tag: string; readonly facility: string; readonly logger: string };

/**
 * Parse `argv` (without node and the script) and `env`. Returns `"help"` for `--help`.
 * @throws HandlerSettingsError naming the setting
 */
export function parseLogSettings(argv: readonly string[], env: NodeJS.ProcessEnv): LogSettings | "help" {
  const parsed = parseHandlerSettings({ argv, env, settings: SETTINGS });
  if (parsed === "help") return "help";
  const file = parsed.get("file");
  const tag = parsed.get("syslog");
  if ((file === undefined) === (tag === undefined)) {
    throw new HandlerSettingsError("give exactly one of --file (LOG_FILE) and --syslog (LOG_SYSLOG)", true);
  }
  if (file !== undefined) return { kind: "file", path: file };
  if (!/^[A-Za-z0-9._-]{1,32}$/.test(tag!)) {
    throw new HandlerSettingsError(
      `--syslog (LOG_SYSLOG): the tag must be 1 to 32 letters, digits, '.', '_' or '-', got ${JSON.stringify(tag)}`,
    );
  }
  const facility = parsed.get("facility") ?? "daemon";
  if (!FACILITIES.has(facility)) {
    throw new HandlerSettingsError(
      `--facility (LOG_FACILITY): ${JSON.stringify(facility)} is not a syslog facility (${[...FACILITIES].join(", ")})`,
    );
  }
  return { kind: "syslog", tag: tag!, facility, logger: parsed.get("logger") ?? "logger" };
}

/** The JSON record of one event (one line of the file). */
export function logRecord(input: HandlerInput, now: Date = new Date()): Record<string, unknown> {
  const { env, event, members } = input;
  return {
    time: now.toISOString(),
    cluster: env.cluster,
    handler: env.handler,
    event_id: event.id,
    event: event.type,
    term: event.term,
    member: event.member,
    service: event.service,
    details: event.details,
    attempt: env.attempt,
    fence: env.fence,
    summary: `${headline(input)}; members ${memberCounts(members)}`,
  };
}

/** How much of the file's end is searched for an earlier attempt's line. */
const TAIL_BYTES = 1 << 20;

/** Whether the last {@link TAIL_BYTES} of the open file hold a line for this event and handler. */
async function alreadyRecorded(fh: FileHandle, eventId: number, handler: string) {
  const { size } = await fh.stat();
  const start = Math.max(0, size - TAIL_BYTES);
  const buf = Buffer.alloc(size - start);
  await fh.read(buf, 0, buf.length, start);
  for (const line of buf.toString("utf8").split("\n")) {
    if (!line.includes(`"event_id":${eventId},`)) continue;
    try {
      const r = JSON.parse(line) as { event_id?: unknown; handler?: unknown };
      if (r.event_id === eventId && r.handler === handler) return true;
    } catch {
      // a torn or foreign line: not ours
    }
  }
  return false;
}

/** Append the record to the file (one write, then fsync); false when it was already there. */
export async function appendRecord(path: string, input: HandlerInput): Promise<boolean> {
  let fh: FileHandle;
  try {
    fh = await open(path, "a+", 0o640);
  } catch (e) {
    throw new Error(`--file (LOG_FILE): cannot open ${path}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  try {
    if (await alreadyRecorded(fh, input.event.id, input.env.handler)) return false;
    await fh.write(`${JSON.stringify(logRecord(input))}\n`);
    await fh.sync();
    return true;
  } finally {
    await fh.close();
  }
}

const WARNING_EVENTS = new Set(["member-down", "check-failing", "handler-failed"]);

/** Send one line to syslog through `logger`; resolves once it exited 0. */
export async function sendSyslog(
  s: Extract<LogSettings, { kind: "syslog" }>,
  input: HandlerInput,
): Promise<void> {
  const { env } = input;
  const priority = `${s.facility}.${WARNING_EVENTS.has(input.event.type) ? "warning" : "notice"}`;
  const line = oneLine(
    `${env.cluster ? `${env.cluster}: ` : ""}${headline(input)} (event ${input.event.id}, attempt ${env.attempt}, ` +
      `fence ${env.fence}); members ${memberCounts(input.members)}`,
  );
  await runToSuccess({
    path: s.logger,
    args: ["-t", s.tag, "-p", priority, "--", line],
    setting: "--logger (LOG_LOGGER)",
    shown: `${s.logger} -t ${s.tag} -p ${priority}`,
  });
}

/** Run the handler with the process's arguments, environment and standard input; returns the exit code. */
export async function main(): Promise<number> {
  const parsed = settingsOrExit(NAME, USAGE, () => parseLogSettings(process.argv.slice(2), process.env));
  if (parsed.kind === "exit") return parsed.code;
  const s = parsed.settings;
  const input = await readHandlerInput();
  const what = `${headline(input)} (event ${input.event.id}, attempt ${input.env.attempt})`;
  if (s.kind === "syslog") {
    await sendSyslog(s, input);
    process.stdout.write(`${NAME}: sent ${what} to syslog as ${s.tag}\n`);
  } else if (await appendRecord(s.path, input)) {
    process.stdout.write(`${NAME}: recorded ${what} in ${s.path}\n`);
  } else {
    process.stdout.write(`${NAME}: ${what} was already recorded in ${s.path} by an earlier attempt\n`);
  }
  return 0;
}

runMain(NAME, main);
