/**
 * Reading a YAML (or JSON, which YAML includes) file an operator wrote: `conclave.yaml` and
 * checks files. Every failure is a {@link ConfigError} naming the file; a syntax error names
 * its line and column as well, since that is where the operator has to look.
 */
import { readFileSync } from "node:fs";
import { fsReason } from "../fs-reason.ts";
import { ConfigError } from "./config-error.ts";
import { parseDocument } from "./yaml.ts";

/** Aliases expanded at most (a guard against "billion laughs" documents). */
const MAX_ALIAS_COUNT = 100;

/**
 * Read and parse a YAML file into plain values (mappings, lists, scalars), not yet validated.
 * @throws ConfigError for an unreadable file or a YAML syntax error (with its line)
 */
export function readYamlFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new ConfigError(file, null, `cannot read the file: ${fsReason(e)}`);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  const err = doc.errors[0];
  if (err) {
    const pos = err.linePos?.[0];
    const what = (err.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?\s*$/, "");
    const where = pos ? `line ${pos.line}, column ${pos.col}: ` : "";
    throw new ConfigError(file, null, `${where}invalid YAML: ${what}`, pos?.line ?? null);
  }
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    throw new ConfigError(file, null, `invalid YAML: ${(e as Error).message}`);
  }
}
