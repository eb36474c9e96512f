/**
 * Unknown commands are bad usage (exit 2) with commander's message and did-you-mean, with or
 * without `--help` and in nested groups, while help for real commands still exits 0. In this
 * process through runCli; the real executable: test/cluster/cli-usage.test.ts.
 */
import test from "ava";
import { runCli } from "../../../src/cli/cli.ts";
import { createProgram, unknownCommandArgv } from "../../../src/cli/program.ts";

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await runCli(argv, {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    env: {},
    connect: () => {
      throw new Error("no command of this test connects");
    },
    runAgent: () => Promise.reject(new Error("no command of this test runs an agent")),
    runDev: () => Promise.reject(new Error("no command of this test runs dev")),
  });
  return { code, out, err };
}

for (const argv of [
  ["nosuch"],
  ["nosuch", "--help"],
  ["nosuch", "-h"],
  ["--help", "nosuch"],
  ["help", "nosuch"],
  ["kv", "nosuch"],
  ["kv", "nosuch", "--help"],
  ["kv", "help", "nosuch"],
  ["electors", "nosuch", "--addr", "127.0.0.1:7400", "--help"],
  ["audit", "nosuch", "-h"],
]) {
  test(`conclave ${argv.join(" ")}: unknown command 'nosuch', exit 2, no help`, async (t) => {
    const r = await cli(argv);
    t.is(r.code, 2);
    t.is(r.out, "");
    t.is(r.err, "error: unknown command 'nosuch'\n(run conclave --help for usage)\n");
  });
}

test("a near miss gets commander's did-you-mean, at the top and in a group", async (t) => {
  const top = await cli(["stauts", "--help"]);
  t.is(top.code, 2);
  t.is(top.out, "");
  t.regex(top.err, /^error: unknown command 'stauts'\n\(Did you mean status\?\)\n/);
  const nested = await cli(["kv", "gte", "--help"]);
  t.is(nested.code, 2);
  t.regex(nested.err, /^error: unknown command 'gte'\n\(Did you mean get\?\)\n/);
});

for (const argv of [
  ["--help"],
  ["-h"],
  ["help"],
  ["help", "kv"],
  ["kv", "--help"],
  ["kv", "help", "get"],
  ["kv", "get", "--help"],
  ["status", "--help"],
]) {
  test(`conclave ${argv.join(" ")}: help, exit 0`, async (t) => {
    const r = await cli(argv);
    t.is(r.code, 0, r.err);
    t.regex(r.out, /^Usage: conclave/);
    t.is(r.err, "");
  });
}

test("the root help names the connection options and the exit codes", async (t) => {
  const r = await cli(["--help"]);
  for (const flag of ["--addr", "--token-file", "--tls-ca", "--tls-cert", "--tls-key", "--json"]) {
    t.true(r.out.includes(flag), flag);
  }
  t.regex(r.out, /2 bad usage/);
});

test("unknownCommandArgv: the path to the group and the unknown name, or nothing", async (t) => {
  const program = createProgram({} as never);
  const kv = program.command("kv");
  kv.command("get").argument("<key>");
  program.command("status").option("--addr <a>");
  t.deepEqual(unknownCommandArgv(program, ["nosuch", "--help"]), ["nosuch"]);
  t.deepEqual(unknownCommandArgv(program, ["kv", "-h", "nosuch"]), ["kv", "nosuch"]);
  t.deepEqual(unknownCommandArgv(program, ["help", "nosuch"]), ["nosuch"]);
  t.is(unknownCommandArgv(program, ["kv", "get", "nosuch"]), undefined, "an argument, not a command");
  t.is(unknownCommandArgv(program, ["status", "--addr", "nosuch", "--help"]), undefined);
  t.is(unknownCommandArgv(program, ["kv", "--help"]), undefined);
  t.is(unknownCommandArgv(program, ["help", "kv"]), undefined);
  t.is(unknownCommandArgv(program, []), undefined);
});
