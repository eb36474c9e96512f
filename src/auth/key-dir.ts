/**
 * `conclave token init DIR`, the one-time step of the upgrade from the shared token
 * (docs/security.md#upgrading): a directory with the three keys, 0600 each, and a first
 * operator token, written so that nothing existing is ever replaced (a replaced key would
 * silently revoke every token made with it).
 */
import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fsReason } from "../fs-reason.ts";
import { decodeKey, generateKey } from "./auth-keys.ts";
import { mintRoleToken } from "./role-token.ts";

/** The file names `init` writes, in the order it writes them. */
export const KEY_FILE_NAMES = {
  peer: "peer.key",
  members: "members.key",
  operators: "operators.key",
} as const;

/** `init` cannot write its files (one exists already, or the directory is not writable). */
export class KeyDirError extends Error {
  override readonly name = "KeyDirError";
}

/** What `init` wrote. */
export interface KeyDir {
  readonly peerKeyFile: string;
  readonly membersKeyFile: string;
  readonly operatorsKeyFile: string;
  /** The first operator's token file. */
  readonly operatorTokenFile: string;
}

/** Write `text` to a new file `path`, 0600; refuses to replace one. */
function writeSecret(path: string, text: string): void {
  try {
    writeFileSync(path, `${text}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600); // the umask may have taken bits away, never added: make it exact
  } catch (e) {
    throw new KeyDirError(`cannot write ${path}: ${fsReason(e)}`);
  }
}

/**
 * Make `dir` (0700 when new) with the three keys and the token of operator `operator`
 * (`operator-NAME.token`).
 * @throws KeyDirError when any of the files exists (nothing is written then) or cannot be written;
 *   RoleTokenError for an invalid operator name
 */
export function initKeyDir(dir: string, operator: string): KeyDir {
  const abs = resolve(dir);
  const files = {
    peerKeyFile: join(abs, KEY_FILE_NAMES.peer),
    membersKeyFile: join(abs, KEY_FILE_NAMES.members),
    operatorsKeyFile: join(abs, KEY_FILE_NAMES.operators),
    operatorTokenFile: join(abs, `operator-${operator}.token`),
  };
  const operatorsKey = generateKey();
  const token = mintRoleToken(decodeKey(operatorsKey, "the new key") as Buffer, "operator", operator);
  for (const f of Object.values(files)) {
    if (existsSync(f))
      throw new KeyDirError(`${f} exists; refusing to replace it (tokens made with it would stop working)`);
  }
  try {
    mkdirSync(abs, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw new KeyDirError(`cannot create ${abs}: ${fsReason(e)}`);
  }
  writeSecret(files.peerKeyFile, generateKey());
  writeSecret(files.membersKeyFile, generateKey());
  writeSecret(files.operatorsKeyFile, operatorsKey);
  writeSecret(files.operatorTokenFile, token);
  return files;
}
