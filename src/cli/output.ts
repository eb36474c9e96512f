/**
 * How the `conclave` command prints: aligned tables, one JSON document per line, and the
 * elector table that `status` and `electors` share. Every command group prints through these,
 * so the text and `--json` shapes are written once.
 */
import type { ElectorStatus } from "../control/control-types.ts";

/** Rows as aligned columns (two spaces apart, no trailing blanks); the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
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
 * What a client command prints for its result: text ends with exactly the newline it needs
 * (none for empty text), anything else is one JSON line.
 */
export function resultText(out: string | object): string {
  if (typeof out === "string") return out.endsWith("\n") || out === "" ? out : `${out}\n`;
  return jsonLine(out);
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
