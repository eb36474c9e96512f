/**
 * The cluster token rule (src/rpc/cluster-token.ts), the one rule the config, the CLI and the
 * gRPC layer share: what can travel as metadata, the length floor for a token from a file, and
 * reading a token file (trimmed; messages name the file and never the token; refused when
 * group or others may read it, unless root owns it and only its group may).
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import test, { type ExecutionContext } from "ava";
import {
  assertUsableToken,
  InvalidTokenError,
  MIN_TOKEN_LENGTH,
  readTokenFile,
  secretFileModeProblem,
  TokenFileError,
  tokenProblem,
  tokenWireProblem,
} from "../../../src/rpc/cluster-token.ts";

function tokenFile(t: ExecutionContext, text: string, mode = 0o600): string {
  const dir = mkdtempSync(join(tmpdir(), "conclave-token-"));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "token");
  writeFileSync(file, text);
  chmodSync(file, mode);
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

test("a token file group or others can read is refused, naming the file, its mode and the fix", (t) => {
  // This process owns the files it writes; as root, the fix also offers 640 (see the next test).
  const root = process.getuid?.() === 0;
  for (const mode of [0o644, 0o604, 0o660, 0o666, 0o744]) {
    const file = tokenFile(t, "s3cret-token-0123456789\n", mode);
    const e = t.throws(() => readTokenFile(file), { instanceOf: TokenFileError })!;
    const fix = root ? `chmod 600 ${file}, or 640 to let its group read it` : `chmod 600 ${file}`;
    t.is(
      e.problem,
      `token file ${file} has mode 0${mode.toString(8)}; it must not be readable by group or others (${fix})`,
    );
    t.false(e.message.includes("s3cret"));
  }
  for (const mode of [0o600, 0o400, 0o700]) {
    t.is(
      readTokenFile(tokenFile(t, "s3cret-token-0123456789\n", mode)),
      "s3cret-token-0123456789",
      mode.toString(8),
    );
  }
});

test("the mode rule: owner only; owned by root, its group may read too (PostgreSQL's rule)", (t) => {
  const me = 1000;
  t.is(secretFileModeProblem("/x/t", "token", 0o100600, me), null);
  t.is(secretFileModeProblem("/x/t", "token", 0o100400, me), null);
  t.is(
    secretFileModeProblem("/x/t", "token", 0o100644, me),
    "token file /x/t has mode 0644; it must not be readable by group or others (chmod 600 /x/t)",
  );
  t.regex(secretFileModeProblem("/x/t", "key", 0o100640, me)!, /^key file \/x\/t has mode 0640;/);
  t.is(secretFileModeProblem("/x/t", "token", 0o100640, 0), null, "root:conclave 640");
  t.is(secretFileModeProblem("/x/t", "token", 0o100440, 0), null);
  t.is(
    secretFileModeProblem("/x/t", "token", 0o100644, 0),
    "token file /x/t has mode 0644; it must not be readable by group or others (chmod 600 /x/t, or 640 to let its group read it)",
  );
  t.regex(
    secretFileModeProblem("/x/t", "token", 0o100660, 0)!,
    /has mode 0660;/,
    "group write is never allowed",
  );
});
