/**
 * The cluster token rule (src/rpc/cluster-token.ts), the one rule the config, the CLI and the
 * gRPC layer share: what can travel as metadata, the length floor for a token from a file, and
 * reading a token file (trimmed; messages name the file and never the token).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import {
  assertUsableToken,
  InvalidTokenError,
  MIN_TOKEN_LENGTH,
  readTokenFile,
  TokenFileError,
  tokenProblem,
  tokenWireProblem,
} from "../../../src/rpc/cluster-token.ts";

function tokenFile(t: ExecutionContext, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-token-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "token");
  writeFileSync(file, text);
  return file;
}

test("the wire part: non-empty printable ASCII without spaces", (t) => {
  t.is(tokenWireProblem("abc", "the token"), null);
  t.is(tokenWireProblem("", "the token"), "the token is empty");
  t.regex(tokenWireProblem("a b", "the token")!, /^the token must be printable ASCII/);
  t.regex(tokenWireProblem("é-token", "the token")!, /printable ASCII/);
  assertUsableToken("short");
  t.throws(() => assertUsableToken(""), {
    instanceOf: InvalidTokenError,
    message: "the cluster token is empty",
  });
});

test("the full rule adds the length floor", (t) => {
  t.is(MIN_TOKEN_LENGTH, 16);
  t.is(tokenProblem("x".repeat(MIN_TOKEN_LENGTH), "the token"), null);
  t.is(tokenProblem("x".repeat(15), "the token"), "the token is 15 characters; at least 16 are required");
  t.is(tokenProblem("", "the token"), "the token is empty");
});

test("readTokenFile trims, and refuses a file it cannot read or a token the rule refuses", (t) => {
  t.is(readTokenFile(tokenFile(t, "  s3cret-token-0123456789\n")), "s3cret-token-0123456789");
  const short = tokenFile(t, "short-secret\n");
  const e = t.throws(() => readTokenFile(short), { instanceOf: TokenFileError })!;
  t.is(e.path, short);
  t.is(e.problem, `the token in ${short} is 12 characters; at least 16 are required`);
  t.false(e.message.includes("short-secret"));
  const missing = join(tmpdir(), "conclave-no-such-token-file");
  t.throws(() => readTokenFile(missing), {
    instanceOf: TokenFileError,
    message: `cannot read ${missing}: no such file`,
  });
  t.throws(() => readTokenFile(tokenFile(t, "\n\n")), { instanceOf: TokenFileError, message: /is empty$/ });
});
