/**
 * What the CLI prints from the cluster reaches the terminal without control characters
 * (src/cli/output.ts, `terminalText`): ESC sequences, other C0 controls, DEL and C1 are
 * removed; a table cell or an event line loses its line breaks too, so a member name cannot
 * clear the screen or fake a row. `--json` is left as JSON prints it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { runCli } from "../../../src/cli/cli.ts";
import { table, terminalText } from "../../../src/cli/output.ts";
import type { ControlApi } from "../../../src/control/control-types.ts";

/** A member name that clears the screen and then draws a row of its own. */
const EVIL = "web1\u001b[2J\n| m9 | up |";

/** Run the CLI against a fake node that answers with `api`'s calls. */
async function cli(
  t: ExecutionContext,
  argv: string[],
  api: Partial<ControlApi>,
): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const dir = mkdtempSync(join(tmpdir(), "conclave-term-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, "token");
  writeFileSync(tokenFile, "s3cret-token-0123456789abcdef\n", { mode: 0o600 });
  const code = await runCli([...argv, "--token-file", tokenFile], {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    env: {},
    connect: () => ({ close: () => {}, ...api }) as ControlApi,
    runAgent: () => Promise.reject(new Error("no agent")),
    runDev: () => Promise.reject(new Error("no dev")),
  });
  return { code, out, err };
}

/** Whether `text` holds any C0 control but newline, DEL or C1 control. */
const hasControl = (text: string) => /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/.test(text);

test("terminalText removes ESC sequences whole, C0, DEL and C1; newline and tab only when multi-line", (t) => {
  t.is(terminalText(EVIL), "web1| m9 | up |");
  t.is(terminalText(EVIL, true), "web1\n| m9 | up |");
  t.is(
    terminalText("a\u001b]0;owned title\u0007b\u001b[1;31mred\u001b[0m\u009b2J\u007f\u0000c"),
    "ab" + "red" + "2Jc",
  );
  t.is(terminalText("col\tumn\r\n", true), "col\tumn\n", "a carriage return cannot overwrite a line");
  t.is(terminalText("col\tumn"), "column");
  t.is(terminalText("ünïcode · ok"), "ünïcode · ok", "printable text is untouched");
  // An unterminated OSC ends at the line's end: it cannot swallow the lines after it.
  t.is(terminalText("x\u001b]8;;evil\nnext line", true), "x\nnext line");
});

test("a table cell cannot add a row", (t) => {
  t.is(
    table([
      ["NAME", "STATUS"],
      [EVIL, "down"],
    ]),
    "NAME             STATUS\nweb1| m9 | up |  down",
  );
});

test("conclave members: a name with \\u001b[2J and a fake row prints as one plain row; --json keeps it", async (t) => {
  const members = async () => ({
    members: [
      {
        name: EVIL,
        address: "10.0.0.1:7400\u0007",
        status: "up" as const,
        checks: { "nginx\u001b[8m": "passing" as const },
        services: {},
      },
    ],
  });
  const r = await cli(t, ["members"], { members });
  t.is(r.code, 0, r.err);
  const lines = r.out.trimEnd().split("\n");
  t.is(lines.length, 2, r.out);
  t.regex(lines[1]!, /^web1\| m9 \| up \|\s+10\.0\.0\.1:7400\s+up\s+nginx:passing\s+-$/);
  t.false(hasControl(r.out));
  const json = await cli(t, ["members", "--json"], { members });
  t.is((JSON.parse(json.out) as { name: string }[])[0]!.name, EVIL, "--json is the data as it is");
});

test("conclave events, kv get/list and an error message print no control characters", async (t) => {
  const event = {
    id: 7,
    term: 1,
    time: "2026-12-01T10:00:00.000Z",
    type: "check-failing",
    member: EVIL,
    service: null,
    details: { detail: "HTTP 500\u001b[2J\u009d" },
    hash: "h",
  };
  const ev = await cli(t, ["events"], { events: async () => ({ eventsJson: [JSON.stringify(event)] }) });
  t.is(ev.code, 0, ev.err);
  t.is(ev.out.split("\n").length, 2, "one event, one line");
  t.false(hasControl(ev.out));
  t.regex(ev.out, /^7 {2}2026-12-01T10:00:00\.000Z {2}check-failing {2}web1\| m9 \| up \| {2}- {2}/);

  const get = await cli(t, ["kv", "get", "k"], {
    kvGet: async () => ({ found: true, value: "line1\n\u001b[31mline2\u001b[0m\u0008", revision: 1 }),
  });
  t.is(get.out, "line1\nline2\n", "kv get keeps a value's lines, not its escapes");
  const list = await cli(t, ["kv", "list"], {
    kvList: async () => ({
      items: [
        { key: "a", value: "x\nb = forged", revision: 1 },
        { key: "c", value: "y", revision: 2 },
      ],
    }),
  });
  t.is(list.out, "a = xb = forged\nc = y\n", "kv list: one line per key");

  const failed = await cli(t, ["drain", "m1"], {
    drain: async () => {
      throw new Error("no member \u001b[2J\u001b[Hm1");
    },
  });
  t.is(failed.code, 1);
  t.is(failed.err, "conclave: no member m1\n");
});
