/**
 * Loading the node config, `conclave.yaml` (docs/config.md): read the file, validate it
 * field by field (`config-schema.ts`) and across fields (`config-rules.ts`), and read the files
 * it names, giving the typed {@link Config} the rest of the node uses.
 *
 * A config that does not parse or validate throws {@link ConfigError}, whose message is one
 * line naming the file, the key and what is wrong. When several things are wrong, the one that
 * comes first in the file is reported; the CLI prints it and exits 2.
 */
import { ConfigError, describe } from "./config-error.ts";
import { applyConfigRules } from "./config-rules.ts";
import { configSchema } from "./config-schema.ts";
import { isRecord } from "./is-record.ts";
import type { Config } from "./node-config.ts";
import { readYamlFile } from "./read-yaml.ts";
import { parseWith } from "./zod-problems.ts";

/**
 * Read, parse (YAML, or JSON, which YAML includes) and validate a config file, and read the
 * files it names (the token; the TLS files must exist).
 * @param file path of the file; it names the file in error messages as given
 * @throws ConfigError on the first problem, including an unreadable file or a YAML syntax
 *   error (which names the line)
 */
export function loadConfig(file: string): Config {
  return validateConfig(readYamlFile(file), file);
}

/**
 * Validate an already-parsed config (e.g. from a test or an embedding program). Relative
 * paths are resolved against the directory of `file`, and the token and TLS files are read
 * or checked just as {@link loadConfig} does.
 * @param raw the parsed YAML/JSON document
 * @param file the file name to resolve paths against and to name in error messages
 * @throws ConfigError on the first problem
 */
export function validateConfig(raw: unknown, file: string): Config {
  if (raw === null || raw === undefined) {
    throw new ConfigError(
      file,
      null,
      "the file is empty; it must hold the node's settings (name, roles, ...)",
    );
  }
  if (!isRecord(raw)) {
    throw new ConfigError(
      file,
      null,
      `must hold a mapping of settings (name: ..., roles: ...), got ${describe(raw)}`,
    );
  }
  const parsed = parseWith(configSchema, raw, file, []);
  return applyConfigRules(parsed, raw, file);
}
