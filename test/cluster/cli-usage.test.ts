/**
 * The real `conclave` executable refuses an unknown command, with or without `--help` and in
 * a command group, as bad usage (exit 2) naming it, so a typo in a script does not pass as
 * success; help for real commands still exits 0 (docs/cli.md, exit codes). No cluster: no
 * command here connects.
 */
import test from "ava";
import { conclave } from "../support/run-conclave.ts";

for (const argv of [
  ["nosuch", "--help"],
  ["nosuch"],
  ["kv", "nosuch", "--help"],
  ["kv", "nosuch"],
  ["help", "nosuch"],
]) {
  test(`conclave ${argv.join(" ")} exits 2: unknown command 'nosuch'`, async (t) => {
    const r = await conclave(argv);
    t.is(r.code, 2);
    t.is(r.stdout, "");
    t.regex(r.stderr, /^error: unknown command 'nosuch'\n/);
  });
}

test("conclave stauts --help exits 2 with commander's did-you-mean", async (t) => {
  const r = await conclave(["stauts", "--help"]);
  t.is(r.code, 2);
  t.is(r.stdout, "");
  t.regex(r.stderr, /^error: unknown command 'stauts'\n\(Did you mean status\?\)\n/);
});

test("conclave kv --help and conclave --help still print the help and exit 0", async (t) => {
  const kv = await conclave(["kv", "--help"]);
  t.is(kv.code, 0, kv.stderr);
  t.regex(kv.stdout, /^Usage: conclave kv /);
  const root = await conclave(["--help"]);
  t.is(root.code, 0, root.stderr);
  t.regex(root.stdout, /^Usage: conclave /);
  t.is(root.stderr, "");
});
