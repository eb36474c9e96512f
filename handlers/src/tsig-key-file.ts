/**
 * Reading a TSIG key from a file in BIND's syntax, as `tsig-keygen` and `ddns-confgen` write it:
 *
 *     key "conclave" {
 *         algorithm hmac-sha256;
 *         secret "base64...";
 *     };
 *
 * The file must hold exactly one `key` statement; comments (`#`, `//`, C style) are allowed.
 */
import { readFileSync } from "node:fs";
import { isValidName } from "./dns-wire.ts";
import { TSIG_ALGORITHMS, type TsigAlgorithm, type TsigKey } from "./dns-tsig.ts";

/** A key file that cannot be read or does not hold one usable key; the message says which and why. */
export class KeyFileError extends Error {
  override readonly name = "KeyFileError";
}

/** Remove comments outside quoted strings. */
function stripComments(text: string): string {
  return text.replace(/("(?:[^"\\]|\\.)*")|#[^\n]*|\/\/[^\n]*|\/\*[\s\S]*?\*\//g, (m, quoted: string) =>
    quoted ? m : " ",
  );
}

/**
 * Parse the text of a key file. `source` names the file in error messages.
 * @throws KeyFileError when there is not exactly one key, or its algorithm or secret is bad.
 */
export function parseKeyFile(text: string, source: string): TsigKey {
  const body = stripComments(text);
  const keys = [...body.matchAll(/\bkey\s+(?:"([^"]*)"|([^\s{";]+))\s*\{([^}]*)\}\s*;?/g)];
  if (keys.length !== 1) {
    throw new KeyFileError(
      `${source}: expected one key statement (key "NAME" { algorithm ...; secret "..."; };), found ${keys.length}`,
    );
  }
  const [, quotedName, bareName, inner] = keys[0]!;
  const name = quotedName ?? bareName ?? "";
  if (!isValidName(name) || name === "." || name === "") {
    throw new KeyFileError(`${source}: key name ${JSON.stringify(name)} is not a valid domain name`);
  }
  const alg = /\balgorithm\s+"?([A-Za-z0-9-]+)"?\s*;/.exec(inner ?? "")?.[1]?.toLowerCase();
  if (!alg) throw new KeyFileError(`${source}: key ${name} has no algorithm`);
  if (!(alg in TSIG_ALGORITHMS)) {
    throw new KeyFileError(
      `${source}: key ${name} has algorithm ${alg}; supported: ${Object.keys(TSIG_ALGORITHMS).join(", ")}`,
    );
  }
  const secret = /\bsecret\s+"([^"]*)"\s*;/.exec(inner ?? "")?.[1]?.replace(/\s+/g, "");
  if (secret === undefined) throw new KeyFileError(`${source}: key ${name} has no secret`);
  if (secret === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(secret) || secret.length % 4 !== 0) {
    throw new KeyFileError(`${source}: the secret of key ${name} is not base64`);
  }
  return { name, algorithm: alg as TsigAlgorithm, secret: Buffer.from(secret, "base64") };
}

/** Read and parse a key file; throws {@link KeyFileError} naming the file when it cannot. */
export function loadKeyFile(path: string): TsigKey {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new KeyFileError(`cannot read ${path}: ${err.code ?? err.message}`);
  }
  return parseKeyFile(text, path);
}
