/**
 * `allow_remote_commands` (docs/config.md, docs/checks.md#remote-commands): a member's own
 * opt-in to cluster-wide `command` checks and `action`s. False when absent, true only when
 * written so; anything but a boolean is refused, naming the key.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import { ConfigError } from "../../../src/config/config-error.ts";
import { loadConfig } from "../../../src/config/load-config.ts";

const BASE = `name: m1
roles: [member]
listen: 10.0.0.9:7400
cluster:
  electors:
    e1: 10.0.0.1:7400
  token_file: token
`;

function load(t: ExecutionContext, extra: string) {
  const dir = mkdtempSync(join(tmpdir(), "conclave-remote-config-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "token"), "s3cret-token-0123456789abcdef\n", { mode: 0o600 });
  const file = join(dir, "conclave.yaml");
  writeFileSync(file, BASE + extra);
  return () => loadConfig(file);
}

test("allow_remote_commands is false unless the member's config sets it true", (t) => {
  t.false(load(t, "")().allowRemoteCommands);
  t.false(load(t, "allow_remote_commands: false\n")().allowRemoteCommands);
  t.true(load(t, "allow_remote_commands: true\n")().allowRemoteCommands);
});

test("allow_remote_commands must be a boolean", (t) => {
  const err = t.throws(load(t, 'allow_remote_commands: "yes"\n'), { instanceOf: ConfigError })!;
  t.is(err.key, "allow_remote_commands", err.message);
  t.regex(err.problem, /must be true or false, got "yes"/);
});
