/**
 * The README's deployment steps as a test runs them (test/netns/readme-deploy.test.ts): the
 * marked shell blocks, and the one documented substitution that lets them run on a machine
 * that is not four servers.
 *
 * Markers. In README.md's "Run it on your servers", an HTML comment right before a fenced
 * `sh` block marks it:
 *   `<!-- deploy-step: web1 web2 web3 -->`  run the block, as written, on each of those hosts
 *   `<!-- deploy-check: web1 -->`            step 5: the test runs it line by line on that host
 *                                            and checks what each line's comment promises
 * Unmarked blocks (installing packages, cloning) are not run: the test stands in for them.
 *
 * Substitution ({@link substitutePaths}), applied to each block and to the files the blocks
 * install from the package (the config, the unit's `ExecStart=`):
 *   - `/opt/conclave` becomes the test's fresh build of this checkout;
 *   - the {@link MOVED_PREFIXES} (`/etc/conclave`, `/etc/bind`, `/var/lib/conclave`, `/root`,
 *     ...) move under a folder per host, `LAB/hosts/HOST/...`; `HOST:/path`, as scp writes a
 *     remote path (`$h:/etc/conclave/` too), moves under that host's folder;
 *   - nothing else changes (addresses, names, commands, other paths such as `/dev/urandom`).
 * Stand-ins ({@link blockPrelude}), shell functions defined before each block: `scp` copies
 * (the remote path is already a local folder), `systemctl` appends its arguments to a file
 * that the test then carries out (start the unit's `ExecStart=`, stop nginx), `rndc` talks to
 * the test's named. In the check block, `ssh HOST CMD` runs CMD on HOST.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** One marked block of the README. */
export interface DeployBlock {
  /** `step`: run whole on each host; `check`: step 5, run line by line. */
  readonly kind: "step" | "check";
  readonly hosts: readonly string[];
  /** The block's text, without the fences. */
  readonly code: string;
  /** The README line of the marker (1-based), for messages. */
  readonly line: number;
}

const MARKER = /^<!-- deploy-(step|check): ([a-z0-9 -]+) -->$/;

/**
 * The marked blocks of `markdown`, in order.
 * @throws Error when a marker is not followed (after blank lines) by a fenced `sh` block, or
 *   names no host
 */
export function deployBlocks(markdown: string): DeployBlock[] {
  const lines = markdown.split("\n");
  const blocks: DeployBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = MARKER.exec(lines[i]!.trim());
    if (!m) {
      if (lines[i]!.trim().startsWith("<!-- deploy-")) {
        throw new Error(`README.md:${i + 1}: a marker reads <!-- deploy-step: HOST... --> or deploy-check`);
      }
      continue;
    }
    let j = i + 1;
    while (j < lines.length && lines[j]!.trim() === "") j++;
    if (lines[j]?.trim() !== "```sh") {
      throw new Error(`README.md:${i + 1}: the ${m[1]} marker is not followed by a \`\`\`sh block`);
    }
    const end = lines.findIndex((l, k) => k > j && l.trim() === "```");
    if (end < 0) throw new Error(`README.md:${j + 1}: the block never ends`);
    const hosts = m[2]!.trim().split(/\s+/);
    blocks.push({
      kind: m[1] as "step" | "check",
      hosts,
      code: lines.slice(j + 1, end).join("\n"),
      line: i + 1,
    });
    i = end;
  }
  return blocks;
}

/** Paths the test moves under each host's folder (see the file comment). */
export const MOVED_PREFIXES = [
  "/etc/conclave",
  "/etc/bind",
  "/etc/systemd",
  "/var/lib/conclave",
  "/var/lib/bind",
  "/var/cache/bind",
  "/var/www",
  "/root",
] as const;

/** The package path: the test's build of this checkout. */
export const PACKAGE_PREFIX = "/opt/conclave";

/** Absolute paths the blocks, the unit and the examples may use as they are (system files). */
export const LEFT_ALONE = ["/dev/urandom", "/dev/null", "/usr/sbin/nologin", "/usr/bin/env"] as const;

/** Where the test keeps the hosts' folders and the package. */
export interface Layout {
  /** The folder holding `hosts/HOST/` for each host. */
  readonly lab: string;
  /** What `/opt/conclave` becomes. */
  readonly pkg: string;
}

/** The folder that stands for host `host`'s `/`. */
export function hostRoot(layout: Layout, host: string): string {
  return join(layout.lab, "hosts", host);
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const PATH_RE = new RegExp(
  // An optional scp-style host (a name or a shell variable) and a moved prefix, as a whole
  // path component, not inside a longer word or path.
  `(?<![\\w.~/-])(?:([A-Za-z0-9_-]+|\\$[A-Za-z_]\\w*|\\$\\{[A-Za-z_]\\w*\\}):)?(${[PACKAGE_PREFIX, ...MOVED_PREFIXES].map(escape).join("|")})(?![\\w.-])`,
  "g",
);

/** `text` with its paths moved for `host` (see the file comment). */
export function substitutePaths(text: string, host: string, layout: Layout): string {
  return text.replace(PATH_RE, (_all, remote: string | undefined, prefix: string) => {
    if (prefix === PACKAGE_PREFIX) return layout.pkg;
    const root =
      remote === undefined
        ? hostRoot(layout, host)
        : remote.startsWith("$")
          ? `${join(layout.lab, "hosts")}/${remote}`
          : hostRoot(layout, remote);
    return `${root}${prefix}`;
  });
}

/**
 * The absolute paths in `text` that the substitution leaves alone and that are not in
 * {@link LEFT_ALONE}: a new path in the README that the test would not move (and so would
 * write on the machine running it) shows up here.
 */
export function unmovedPaths(text: string): string[] {
  const found = new Set<string>();
  for (const m of text.matchAll(/(?<![\w.~/-])\/[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.$-]*)*/g)) {
    const path = m[0];
    const moved = [PACKAGE_PREFIX, ...MOVED_PREFIXES].some((p) => path === p || path.startsWith(`${p}/`));
    if (!moved && !(LEFT_ALONE as readonly string[]).includes(path)) found.add(path);
  }
  return [...found];
}

/** What the stand-ins of one host need. */
export interface PreludeOptions {
  readonly host: string;
  /** The file `systemctl` appends its arguments to. */
  readonly systemctlLog: string;
  /** An rndc.conf for the test's named (only used on the DNS host). */
  readonly rndcConf: string;
}

/**
 * The bash text run before a block on one host: strict mode, the host name (the block runs in
 * its own UTS namespace), and the stand-ins for scp, systemctl and rndc.
 */
export function blockPrelude(o: PreludeOptions): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    "set -euo pipefail",
    `hostname ${q(o.host)}`,
    `systemctl() { printf '%s\\n' "$*" >> ${q(o.systemctlLog)}; }`,
    `rndc() { command rndc -c ${q(o.rndcConf)} "$@"; }`,
    'scp() { cp "$@"; }',
    "",
  ].join("\n");
}

/**
 * The lines of the check block as a shell runs them: continuation lines joined, blank and
 * comment-only lines dropped (a trailing comment stays; the shell ignores it).
 */
export function checkLines(code: string): string[] {
  const out: string[] = [];
  let pending = "";
  for (const raw of code.split("\n")) {
    if (raw.endsWith("\\")) {
      pending += `${raw.slice(0, -1)} `;
      continue;
    }
    const line = `${pending}${raw}`.trim();
    pending = "";
    if (line === "" || line.startsWith("#")) continue;
    out.push(line);
  }
  return out;
}

/** The `[Service]` keys of a unit file (a key may repeat); comments and other sections dropped. */
export function unitServiceKeys(file: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  let section = "";
  for (const raw of readFileSync(file, "utf8").split("\n")) {
    const line = raw.trim();
    const s = /^\[(.+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      continue;
    }
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m && section === "Service") keys.set(m[1]!, [...(keys.get(m[1]!) ?? []), m[2]!]);
  }
  return keys;
}

/**
 * `ExecStart=` as an argv. Only plain words are supported (no quotes, `%` specifiers, `$`
 * variables or `-`/`@`/`+`/`!` prefixes): a unit that grows one makes the test say so rather
 * than run something else.
 */
export function execStartArgv(value: string): string[] {
  if (/["'%$\\]/.test(value) || /^[-@+!:]/.test(value)) {
    throw new Error(
      `ExecStart=${value}: the test runs only plain words; teach test/support/readme-blocks.ts`,
    );
  }
  return value.trim().split(/\s+/);
}
