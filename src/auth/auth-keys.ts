/**
 * The keys role tokens are made with (role-token.ts): `peer.key` (elector tokens),
 * `members.key` (member tokens) and `operators.key` (operator and reader tokens). A key file
 * holds {@link KEY_BYTES} random bytes, base64url, and is read by the token-file rule
 * (`readTokenFile` in rpc/cluster-token.ts: trimmed, printable, and readable by its owner
 * only, or also by its group when root owns it), so a key file and a token file are refused
 * for the same reasons.
 */
import { randomBytes } from "node:crypto";
import { readTokenFile, TokenFileError } from "../rpc/cluster-token.ts";
import type { AuthRole } from "./auth-role.ts";

/** Bytes of a key: the HMAC-SHA256 block of security. */
export const KEY_BYTES = 32;

/** The three keys an elector holds (`cluster.auth`). */
export interface AuthKeys {
  /** Elector tokens: shared by the electors. */
  readonly peer: Buffer;
  /** Member tokens. */
  readonly members: Buffer;
  /** Operator and reader tokens. */
  readonly operators: Buffer;
}

/** A key file that cannot be read or does not hold a key. */
export class KeyFileError extends Error {
  override readonly name = "KeyFileError";
  /**
   * @param path the key file
   * @param problem what is wrong, naming the file and never the key; also the message
   */
  constructor(
    readonly path: string,
    readonly problem: string,
  ) {
    super(problem);
  }
}

/** A new random key, as a key file holds it (base64url, no newline). */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString("base64url");
}

/**
 * Decode a key as written in a key file, or say why it is not one.
 * @param subject how the message names the key, e.g. `the key in /etc/conclave/peer.key`
 */
export function decodeKey(text: string, subject: string): Buffer | string {
  const key = Buffer.from(text, "base64url");
  // Re-encoding must give the text back: no stray characters silently dropped by the decoder.
  if (key.length !== KEY_BYTES || key.toString("base64url") !== text) {
    return `${subject} is not a key: it must be ${KEY_BYTES} bytes in base64url (make one with \`conclave token init\`)`;
  }
  return key;
}

/**
 * Read a key file.
 * @throws KeyFileError for an unreadable file or a content that is not a key
 */
export function readKeyFile(path: string): Buffer {
  let text: string;
  try {
    text = readTokenFile(path, "key");
  } catch (e) {
    if (e instanceof TokenFileError) throw new KeyFileError(path, e.problem);
    throw e;
  }
  const key = decodeKey(text, `the key in ${path}`);
  if (typeof key === "string") throw new KeyFileError(path, key);
  return key;
}

/** The key tokens of `role` are made with. */
export function keyForRole(keys: AuthKeys, role: AuthRole): Buffer {
  switch (role) {
    case "elector":
      return keys.peer;
    case "member":
      return keys.members;
    case "operator":
    case "reader":
      return keys.operators;
  }
}
