/**
 * The `dns-rfc2136` handler: keeps a DNS name's A and AAAA records listing the members that
 * are up, with one fenced, TSIG-signed RFC 2136 update per run (see the usage text in
 * dns-rfc2136-settings.ts, and dns-reconcile.ts for the fencing).
 *
 * Exit status: 0 done or stale; 1 a failure the runner should retry; 2 bad usage or settings
 * (checked before any input is read or packet sent).
 */
import { DnsClient } from "./dns-client.ts";
import { reconcile } from "./dns-reconcile.ts";
import { parseSettings, USAGE } from "./dns-rfc2136-settings.ts";
import { settingsOrExit } from "./handler-settings.ts";
import { parseHandlerEnv, parseHandlerStdin, readStdin, runMain } from "./handler-input.ts";
import { KeyFileError, loadKeyFile } from "./tsig-key-file.ts";

const NAME = "dns-rfc2136";

/** Run the handler with the process's arguments, environment and standard input; returns the exit code. */
export async function main(): Promise<number> {
  const parsed = settingsOrExit(NAME, USAGE, () => parseSettings(process.argv.slice(2), process.env));
  if (parsed.kind === "exit") return parsed.code;
  const settings = parsed.settings;
  let key: ReturnType<typeof loadKeyFile>;
  try {
    key = loadKeyFile(settings.keyFile);
  } catch (e) {
    if (!(e instanceof KeyFileError)) throw e;
    process.stderr.write(`${NAME}: --key-file (DNS_KEY_FILE): ${e.message}\n`);
    return 2;
  }
  const env = parseHandlerEnv(process.env);
  const { members } = parseHandlerStdin(await readStdin());
  const warn = (line: string) => process.stderr.write(`${NAME}: warning: ${line}\n`);
  const outcome = await reconcile({
    dns: new DnsClient({
      server: { host: settings.server, port: settings.port },
      key,
      timeoutMs: settings.timeoutMs,
    }),
    zone: settings.zone,
    name: settings.name,
    fenceName: settings.fenceName,
    ttl: settings.ttl,
    fence: env.fence,
    members,
    eventMember: env.member,
    check: settings.check,
    minRecords: settings.minRecords,
    warn,
  });
  if (outcome.kind === "stale") {
    process.stdout.write(
      `${NAME}: stale fence ${env.fence}: a newer fence ${outcome.storedFence} is already applied to ${settings.name}; nothing changed\n`,
    );
    return 0;
  }
  const list = outcome.records.map((r) => `${r.type} ${r.text}`).join(", ") || "no records";
  process.stdout.write(
    `${NAME}: ${settings.name} ${outcome.changed ? "now has" : "unchanged:"} ${list}; fence ${env.fence}` +
      ` (was ${outcome.previousFence ?? "none"})\n`,
  );
  return 0;
}

runMain(NAME, main);
