/**
 * How the `conclave` command prints: aligned tables, one JSON document per line, and the
 * elector table that `status` and `electors` share. Every command group prints through these,
 * so the text and `--json` shapes are written once.
 *
 * Text that comes from the cluster (member, check and service names, check details, event
 * fields, kv values, error messages) reaches the operator's terminal only through
 * {@link terminalText}: `table` applies it to every cell, `resultText` to a command's whole
 * text, and the printers that write directly (`events`, `audit verify`, `handlers test`,
 * error lines) call it themselves. `--json` output is left as it is: JSON escapes the C0
 * controls, and a program, not a terminal, is its reader.
 */
import type { ElectorStatus } from "../control/control-types.ts";

/**
 * ESC sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL or ESC \`, DCS/SOS/PM/APC up to
 * `ESC \` but never past a line's end, and two-character `ESC X`), then any other C0 control, DEL and C1 control. Tab
 * and newline are in the C0 range and are handled by {@link terminalText}.
 */
const ESCAPE_SEQUENCE =
  /\u001b\[[\u0030-\u003f]*[\u0020-\u002f]*[\u0040-\u007e]?|\u001b[\]PX^_][^\u0007\u001b\n]*(?:\u0007|\u001b\\)?|\u001b[\u0020-\u007e]?/g;
const CONTROL_MULTI_LINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;
const CONTROL_ONE_LINE = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * `text` safe to print on a terminal: ESC sequences removed whole, and every other control
 * character (C0, DEL, C1) removed, except newline and tab when `multiLine` (a command's whole
 * output). Without `multiLine` (a table cell, one field of a line) newline and tab go too, so
 * a name such as `m1\n| m9 | up |` cannot fake a row or a line of its own.
 */
export function terminalText(text: string, multiLine = false): string {
  return text.replace(ESCAPE_SEQUENCE, "").replace(multiLine ? CONTROL_MULTI_LINE : CONTROL_ONE_LINE, "");
}

/**
 * Rows as aligned columns (two spaces apart, no trailing blanks); the first row is the header.
 * Every cell goes through {@link terminalText}, one line each.
 */
export function table(rows: string[][]): string {
  const safe = rows.map((r) => r.map((c) => terminalText(c)));
  const widths = safe[0]!.map((_, i) => Math.max(...safe.map((r) => r[i]!.length)));
  return safe
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** One JSON document on its own line (what `--json` prints). */
export function jsonLine(value: unknown): string {
  return `${JSON.stringify(value)}\n`;
}

/**
 * What a client command prints for its result: text, through {@link terminalText} (newlines
 * and tabs kept), ends with exactly the newline it needs (none for empty text); anything else
 * is one JSON line.
 */
export function resultText(out: string | object): string {
  if (typeof out !== "string") return jsonLine(out);
  const text = terminalText(out, true);
  return text.endsWith("\n") || text === "" ? text : `${text}\n`;
}

/** The electors as `status` and `electors list/add/remove` show them. */
export function electorRows(electors: ElectorStatus[]): string {
  return table([
    ["NAME", "ADDRESS", "ROLE", "MATCH", "REACHABLE"],
    ...electors.map((e) => [
      e.name,
      e.address,
      e.role,
      e.match === null ? "-" : String(e.match),
      e.reachable === null ? "unknown" : e.reachable ? "yes" : "no",
    ]),
  ]);
}
