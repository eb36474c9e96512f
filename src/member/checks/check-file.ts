/**
 * Checks files, as `conclave checks apply FILE` and `conclave checks test FILE` read them: a
 * YAML or JSON list of definitions in the form of docs/checks.md, a mapping with just `checks:` (so the
 * `checks:` part of a `conclave.yaml` can be used as it is), or gossipcheck's JSON
 * (`gossipcheck-format.ts`, converted). Validation is the config's (`parseChecks`), so a
 * definition in a file means what it means in `conclave.yaml`.
 */
import { readYamlFile } from "../../config/read-yaml.ts";
import { parseChecks } from "../../config/check-schema.ts";
import type { CheckConfig } from "../../config/node-config.ts";
import { fromGossipcheck, isGossipcheckFormat } from "./gossipcheck-format.ts";

/**
 * Read and parse a checks file (YAML or JSON) and validate it with `parseChecks`.
 * @throws ConfigError on the first problem, including an unreadable file or a YAML syntax error
 */
export function loadChecks(file: string): CheckConfig[] {
  return parseChecks(readChecksFile(file), file);
}

/**
 * Read a checks file as the list of definitions in the form of docs/checks.md (YAML/JSON list, a mapping
 * with `checks:`, or gossipcheck's JSON, converted), not yet validated.
 * @throws ConfigError for an unreadable file or a YAML syntax error
 */
export function readChecksFile(file: string): unknown {
  const raw = readYamlFile(file);
  return isGossipcheckFormat(raw) ? fromGossipcheck(raw, file) : raw;
}
