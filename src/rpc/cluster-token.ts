/**
 * The cluster token rule, in one place: what a cluster token must be, and how a token file is
 * read. The node config (`cluster.token_file`), the CLI (`--token-file`) and the gRPC layer
 * (servers and peer transports, before they use a token) all take their rule from here, so a
 * token one of them accepts is never refused by another for a different reason.
 *
 * The rule has two parts, each written once:
 * - {@link tokenWireProblem}: the token can travel as gRPC metadata (`authorization: Bearer
 *   TOKEN`): non-empty printable ASCII with no spaces. The gRPC layer enforces only this part on
 *   the token it is handed, since that is all it needs to work.
 * - {@link tokenProblem}: that, and at least {@link MIN_TOKEN_LENGTH} characters, so the shared
 *   secret cannot be guessed. Enforced where a token comes from an operator: a token file.
 *
 * A token file holds the token with surrounding whitespace (a trailing newline) trimmed.
 * Messages never include the token itself: it is a secret.
 *
 * A token file, and a key file (auth-keys.ts reads those through {@link readTokenFile}), must
 * not be readable by anyone but its owner: a mode with any group or other bit
 * (`mode & 0o077`) is refused, naming the file, its mode in octal and the `chmod` that fixes
 * it, as ssh and PostgreSQL refuse a private key. One exception, PostgreSQL's: a file owned
 * by root may be readable by its group (0640 or 0440, nothing more), so that root can own
 * the secret and the agent's group (`root:conclave`, deploy/README.md) read it.
 */
import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { fsReason, octalMode } from "../fs-reason.ts";

/** Shortest cluster token accepted from a token file, in characters. */
export const MIN_TOKEN_LENGTH = 16;

/** What gRPC metadata can carry in a header value: printable ASCII, no space. */
const WIRE_TOKEN = /^[\x21-\x7e]+$/;

/** A token that cannot be used (empty, or characters gRPC metadata cannot carry). */
export class InvalidTokenError extends Error {
  override readonly name = "InvalidTokenError";
}

/** A token file that cannot be read or does not hold an acceptable token. */
export class TokenFileError extends Error {
  override readonly name = "TokenFileError";
  /**
   * @param path the token file
   * @param problem what is wrong, naming the file (and never the token); also the message
   */
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(problem);
  }
}

/**
 * Why `token` cannot travel as gRPC metadata, or null when it can.
 * @param subject how the message names the token, e.g. `the cluster token`
 */
export function tokenWireProblem(token: string, subject: string): string | null {
  if (token === "") return `${subject} is empty`;
  if (!WIRE_TOKEN.test(token)) {
    return `${subject} must be printable ASCII with no spaces or line breaks (it is sent as gRPC metadata)`;
  }
  return null;
}

/**
 * Check that a token can travel in metadata (the wire part of the rule, {@link
 * tokenWireProblem}). Servers and peer transports call this on the token they are given; a
 * token from a file has been held to the full rule by {@link readTokenFile} before it gets there.
 * @throws InvalidTokenError saying what is wrong
 */
export function assertUsableToken(token: string): void {
  const problem = tokenWireProblem(token, "the cluster token");
  if (problem !== null) throw new InvalidTokenError(problem);
}

/**
 * Why `token` is not an acceptable cluster token (see {@link tokenWireProblem}, and at least
 * {@link MIN_TOKEN_LENGTH} characters), or null when it is.
 * @param subject how the message names the token, e.g. `the token in /etc/conclave/token`
 */
export function tokenProblem(token: string, subject: string): string | null {
  const wire = tokenWireProblem(token, subject);
  if (wire !== null) return wire;
  if (token.length < MIN_TOKEN_LENGTH) {
    return `${subject} is ${token.length} characters; at least ${MIN_TOKEN_LENGTH} are required`;
  }
  return null;
}

/**
 * Why a secret file with this mode and owner may not be used, or null when it may: see the
 * module's comment (no group or other bit; group read allowed when root owns the file).
 * @param what `token` or `key`, how the message names the file
 */
export function secretFileModeProblem(path: string, what: string, mode: number, uid: number): string | null {
  if ((mode & 0o077) === 0) return null;
  if (uid === 0 && (mode & 0o037) === 0) return null;
  const fix = uid === 0 ? `chmod 600 ${path}, or 640 to let its group read it` : `chmod 600 ${path}`;
  return `${what} file ${path} has mode ${octalMode(mode)}; it must not be readable by group or others (${fix})`;
}

/**
 * Read a token file: its content with surrounding whitespace trimmed, which must pass
 * {@link tokenProblem}, from a file whose mode passes {@link secretFileModeProblem}.
 * @param what how messages name the file and its content: `token` (default) or `key`
 * @throws TokenFileError for an unreadable file, a file others may read, or an unacceptable token
 */
export function readTokenFile(path: string, what = "token"): string {
  let text: string;
  let mode: number;
  let uid: number;
  try {
    const fd = openSync(path, "r");
    try {
      ({ mode, uid } = fstatSync(fd));
      text = readFileSync(fd, "utf8");
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new TokenFileError(path, `cannot read ${path}: ${fsReason(e)}`);
  }
  const modeProblem = secretFileModeProblem(path, what, mode, uid);
  if (modeProblem !== null) throw new TokenFileError(path, modeProblem);
  const token = text.trim();
  const problem = tokenProblem(token, `the ${what} in ${path}`);
  if (problem !== null) throw new TokenFileError(path, problem);
  return token;
}
