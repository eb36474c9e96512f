/**
 * TSIG (RFC 8945): signing a request with a shared HMAC key, and verifying the server's
 * signed answer to it. Only single-message exchanges (no TCP message streams).
 *
 * Invariants:
 * - An answer is accepted only when it carries a TSIG record from the same key and algorithm
 *   whose MAC, computed over the request's MAC and the answer, verifies (in constant time)
 *   and whose time is within its fudge of our clock. A TSIG error the server reports (BADSIG,
 *   BADKEY, BADTIME) is thrown as a {@link TsigError} naming it.
 * - Key and algorithm names enter the MAC in canonical (lowercase, uncompressed) form.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import {
  canonicalName,
  type DecodedMessage,
  encodeName,
  RRClass,
  RRType,
  Rcode,
  rcodeName,
  WireWriter,
} from "./dns-wire.ts";

/** HMAC algorithms, by the name BIND's key files use. */
export const TSIG_ALGORITHMS = {
  "hmac-md5": { wire: "hmac-md5.sig-alg.reg.int.", hash: "md5" },
  "hmac-sha1": { wire: "hmac-sha1.", hash: "sha1" },
  "hmac-sha224": { wire: "hmac-sha224.", hash: "sha224" },
  "hmac-sha256": { wire: "hmac-sha256.", hash: "sha256" },
  "hmac-sha384": { wire: "hmac-sha384.", hash: "sha384" },
  "hmac-sha512": { wire: "hmac-sha512.", hash: "sha512" },
} as const;

/** An algorithm name of {@link TSIG_ALGORITHMS}. */
export type TsigAlgorithm = keyof typeof TSIG_ALGORITHMS;

/** A shared TSIG key. */
export interface TsigKey {
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Uint8Array;
}

/** Seconds either side of `time signed` that a signature stays valid (BIND's default). */
export const DEFAULT_FUDGE = 300;

/** A signature problem: one the server reported (`code` BADSIG, ...) or one found in its answer. */
export class TsigError extends Error {
  override readonly name = "TsigError";
  /** The TSIG error mnemonic (`BADSIG`, `BADKEY`, `BADTIME`, ...), or `UNSIGNED`/`MAC`/`TIME` for answers we refuse. */
  readonly code: string;
  /**
   * @param code the mnemonic.
   * @param message the whole message.
   */
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** What {@link signMessage} returns: the signed message and its MAC (needed to verify the answer). */
export interface SignedMessage {
  readonly wire: Buffer;
  readonly mac: Buffer;
}

/** Options of {@link signMessage}. */
export interface SignOptions {
  /** Seconds since the epoch; now by default. */
  readonly now?: number;
  readonly fudge?: number;
}

/** TSIG variables (RFC 8945 section 4.3.3) in wire form. */
function variables(t: {
  keyName: string;
  algorithm: string;
  timeSigned: number;
  fudge: number;
  error: number;
  other: Uint8Array;
}): Buffer {
  return new WireWriter()
    .bytes(encodeName(canonicalName(t.keyName)))
    .u16(RRClass.ANY)
    .u32(0)
    .bytes(encodeName(canonicalName(t.algorithm)))
    .u48(t.timeSigned)
    .u16(t.fudge)
    .u16(t.error)
    .u16(t.other.length)
    .bytes(t.other)
    .done();
}

function hmac(key: TsigKey, parts: readonly Uint8Array[]): Buffer {
  const h = createHmac(TSIG_ALGORITHMS[key.algorithm].hash, key.secret);
  for (const p of parts) h.update(p);
  return h.digest();
}

/**
 * Sign `wire`, an encoded request without a TSIG record: returns it with the TSIG record
 * appended (ARCOUNT + 1) and the MAC.
 */
export function signMessage(wire: Uint8Array, key: TsigKey, o: SignOptions = {}): SignedMessage {
  const timeSigned = o.now ?? Math.floor(Date.now() / 1000);
  const fudge = o.fudge ?? DEFAULT_FUDGE;
  const algorithm = TSIG_ALGORITHMS[key.algorithm].wire;
  const vars = { keyName: key.name, algorithm, timeSigned, fudge, error: 0, other: new Uint8Array(0) };
  const mac = hmac(key, [wire, variables(vars)]);
  const id = (wire[0]! << 8) | wire[1]!;
  const rdata = new WireWriter()
    .bytes(encodeName(canonicalName(algorithm)))
    .u48(timeSigned)
    .u16(fudge)
    .u16(mac.length)
    .bytes(mac)
    .u16(id)
    .u16(0)
    .u16(0)
    .done();
  const record = new WireWriter()
    .bytes(encodeName(canonicalName(key.name)))
    .u16(RRType.TSIG)
    .u16(RRClass.ANY)
    .u32(0)
    .u16(rdata.length)
    .bytes(rdata)
    .done();
  const out = Buffer.concat([wire, record]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return { wire: out, mac };
}

/** Options of {@link verifyAnswer}. */
export interface VerifyOptions {
  /** Seconds since the epoch; now by default. */
  readonly now?: number;
}

/**
 * Check the TSIG record of `answer` (decoded from `raw`), the server's reply to a request
 * signed with `key` whose MAC was `requestMac`. Throws {@link TsigError} unless it verifies.
 */
export function verifyAnswer(
  raw: Uint8Array,
  answer: DecodedMessage,
  key: TsigKey,
  requestMac: Uint8Array,
  o: VerifyOptions = {},
): void {
  const t = answer.tsig;
  if (!t) {
    throw new TsigError(
      "UNSIGNED",
      `the server's answer (${rcodeName(answer.flags.rcode)}) is not signed with TSIG key ${key.name}`,
    );
  }
  if (t.error !== Rcode.NOERROR) {
    const code = rcodeName(t.error);
    const why: Record<string, string> = {
      BADSIG: `the server rejected the signature (BADSIG): the secret of key ${key.name} differs from the server's`,
      BADKEY: `the server does not know key ${key.name} with algorithm ${key.algorithm} (BADKEY)`,
      BADTIME: "the server rejected the signature's time (BADTIME): our clock and the server's differ",
    };
    throw new TsigError(code, why[code] ?? `the server reported TSIG error ${code}`);
  }
  if (canonicalName(t.keyName) !== canonicalName(key.name)) {
    throw new TsigError("MAC", `the answer is signed with key ${t.keyName}, not ${key.name}`);
  }
  if (canonicalName(t.algorithm) !== canonicalName(TSIG_ALGORITHMS[key.algorithm].wire)) {
    throw new TsigError("MAC", `the answer is signed with algorithm ${t.algorithm}, not ${key.algorithm}`);
  }
  // The signed part: the answer before its TSIG record, with ARCOUNT - 1 and the original id.
  const signed = Buffer.from(raw.subarray(0, t.start));
  signed.writeUInt16BE(t.originalId, 0);
  signed.writeUInt16BE(signed.readUInt16BE(10) - 1, 10);
  const prefix = new WireWriter().u16(requestMac.length).bytes(requestMac).done();
  const expected = hmac(key, [prefix, signed, variables(t)]);
  // RFC 8945 5.2.2.1: a truncated MAC must keep at least half the bytes and at least 10.
  const min = Math.max(10, Math.ceil(expected.length / 2));
  if (
    t.mac.length < min ||
    t.mac.length > expected.length ||
    !timingSafeEqual(Buffer.from(t.mac), expected.subarray(0, t.mac.length))
  ) {
    throw new TsigError("MAC", `the answer's TSIG signature does not verify with key ${key.name}`);
  }
  const now = o.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t.timeSigned) > t.fudge) {
    throw new TsigError(
      "TIME",
      `the answer was signed at ${t.timeSigned} but our clock says ${now} (fudge ${t.fudge} s)`,
    );
  }
}
