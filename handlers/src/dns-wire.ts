/**
 * The DNS message format (RFC 1035 section 4, RFC 2136 for UPDATE, RFC 8945 for TSIG) as
 * far as the DNS handler needs it: building queries and updates, and reading answers.
 *
 * Invariants:
 * - Names are written uncompressed (always valid, and what TSIG wants); names read may be
 *   compressed, and every compression pointer must point backwards, so a hostile answer
 *   cannot loop the reader.
 * - {@link decodeMessage} either returns a complete message or throws {@link DnsWireError}:
 *   it never reads past the end of the buffer.
 * - A TSIG record, when present, is the last additional record; it is returned apart in
 *   {@link DecodedMessage.tsig}, together with the byte offset where it starts, which is what
 *   verifying the answer's signature needs.
 */

/** Resource record types used here. */
export const RRType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  TXT: 16,
  AAAA: 28,
  OPT: 41,
  TSIG: 250,
  ANY: 255,
} as const;

/** Resource record classes: IN, and the two RFC 2136 gives special meaning in updates. */
export const RRClass = { IN: 1, NONE: 254, ANY: 255 } as const;

/** Header opcodes. */
export const Opcode = { QUERY: 0, UPDATE: 5 } as const;

/** Response codes (RFC 1035, RFC 2136) and TSIG error codes (RFC 8945). */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  YXDOMAIN: 6,
  YXRRSET: 7,
  NXRRSET: 8,
  NOTAUTH: 9,
  NOTZONE: 10,
  BADSIG: 16,
  BADKEY: 17,
  BADTIME: 18,
  BADTRUNC: 22,
} as const;

/** The mnemonic of a response or TSIG error code (`RCODE42` for an unknown one). */
export function rcodeName(code: number): string {
  for (const [k, v] of Object.entries(Rcode)) if (v === code) return k;
  return `RCODE${code}`;
}

/** A message that cannot be encoded or decoded; the message says where. */
export class DnsWireError extends Error {
  override readonly name = "DnsWireError";
}

/** A question (in an UPDATE: the zone). */
export interface Question {
  readonly name: string;
  readonly type: number;
  readonly class: number;
}

/**
 * A resource record. `data` is the wire RDATA; for A, AAAA and TXT (the types this handler
 * compares) it has no names in it, so it is the same however the server compressed.
 */
export interface ResourceRecord {
  readonly name: string;
  readonly type: number;
  readonly class: number;
  readonly ttl: number;
  readonly data: Uint8Array;
}

/** Header flags. */
export interface Flags {
  readonly qr: boolean;
  readonly opcode: number;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  /** The 4-bit header RCODE. */
  readonly rcode: number;
}

/**
 * A message. In an UPDATE the four sections are zone, prerequisite, update and additional
 * (RFC 2136 section 2); they are laid out like question, answer, authority and additional.
 */
export interface DnsMessage {
  readonly id: number;
  readonly flags: Flags;
  readonly questions: readonly Question[];
  readonly answers: readonly ResourceRecord[];
  readonly authorities: readonly ResourceRecord[];
  readonly additionals: readonly ResourceRecord[];
}

/** TSIG record data (RFC 8945 section 4.2). */
export interface TsigData {
  readonly algorithm: string;
  /** Seconds since the epoch (48 bits on the wire). */
  readonly timeSigned: number;
  readonly fudge: number;
  readonly mac: Uint8Array;
  readonly originalId: number;
  readonly error: number;
  readonly other: Uint8Array;
}

/** A decoded TSIG record: owner (the key name), class, TTL and data, and where it starts. */
export interface DecodedTsig extends TsigData {
  readonly keyName: string;
  readonly class: number;
  readonly ttl: number;
  /** Byte offset of the record in the message: the signed part is everything before it. */
  readonly start: number;
}

/** A decoded message; a final TSIG record is in `tsig`, not in `additionals`. */
export interface DecodedMessage extends DnsMessage {
  readonly tsig: DecodedTsig | null;
}

const LABEL = /^[A-Za-z0-9_*-]([A-Za-z0-9_-]*)$/;

/** `name` with a final dot, lowercased: the form names are compared in. */
export function canonicalName(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith(".") ? n : `${n}.`;
}

/**
 * Whether `name` is a domain name this codec can write: labels of letters, digits, `-` and
 * `_` (and a leading `*`), 1 to 63 bytes each, 255 bytes in all. `.` alone is the root.
 */
export function isValidName(name: string): boolean {
  const n = canonicalName(name);
  if (n === ".") return true;
  if (n.length > 254) return false; // 254 text bytes + the root label = 255 wire bytes
  return n
    .slice(0, -1)
    .split(".")
    .every((l) => l.length >= 1 && l.length <= 63 && LABEL.test(l));
}

/** The uncompressed wire form of `name`; throws {@link DnsWireError} for an invalid name. */
export function encodeName(name: string): Uint8Array {
  if (!isValidName(name)) throw new DnsWireError(`invalid domain name ${JSON.stringify(name)}`);
  // Case is kept as written (servers compare names case-insensitively); TSIG callers pass
  // the canonical (lowercase) form themselves.
  const written = name.endsWith(".") ? name : `${name}.`;
  const labels = written === "." ? [] : written.slice(0, -1).split(".");
  const out = new Uint8Array(labels.reduce((s, l) => s + l.length + 1, 1));
  let at = 0;
  for (const l of labels) {
    out[at++] = l.length;
    for (let i = 0; i < l.length; i++) out[at++] = l.charCodeAt(i);
  }
  return out;
}

/** TXT record data holding `strings` (each at most 255 bytes of UTF-8). */
export function encodeTxt(strings: readonly string[]): Uint8Array {
  const parts = strings.map((s) => Buffer.from(s, "utf8"));
  for (const p of parts) if (p.length > 255) throw new DnsWireError("a TXT string is longer than 255 bytes");
  return Buffer.concat(parts.flatMap((p) => [Buffer.from([p.length]), p]));
}

/** The strings of TXT record data; throws {@link DnsWireError} when malformed. */
export function decodeTxt(data: Uint8Array): string[] {
  const out: string[] = [];
  for (let at = 0; at < data.length;) {
    const len = data[at]!;
    if (at + 1 + len > data.length) throw new DnsWireError("TXT record data is truncated");
    out.push(Buffer.from(data.subarray(at + 1, at + 1 + len)).toString("utf8"));
    at += 1 + len;
  }
  return out;
}

/** Appends big-endian fields and byte strings to a growing buffer. */
export class WireWriter {
  private readonly parts: Uint8Array[] = [];
  /** Append one byte. */
  u8(v: number): this {
    this.parts.push(Uint8Array.of(v & 0xff));
    return this;
  }
  /** Append a big-endian 16-bit number. */
  u16(v: number): this {
    this.parts.push(Uint8Array.of((v >> 8) & 0xff, v & 0xff));
    return this;
  }
  /** Append a big-endian 32-bit number. */
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    this.parts.push(b);
    return this;
  }
  /** Append a big-endian 48-bit number (TSIG time). */
  u48(v: number): this {
    const b = Buffer.alloc(6);
    b.writeUIntBE(v, 0, 6);
    this.parts.push(b);
    return this;
  }
  /** Append bytes as they are. */
  bytes(b: Uint8Array): this {
    this.parts.push(b);
    return this;
  }
  /** Everything appended, as one buffer. */
  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function encodeFlags(f: Flags): number {
  return (
    (f.qr ? 0x8000 : 0) |
    ((f.opcode & 0xf) << 11) |
    (f.aa ? 0x400 : 0) |
    (f.tc ? 0x200 : 0) |
    (f.rd ? 0x100 : 0) |
    (f.ra ? 0x80 : 0) |
    (f.rcode & 0xf)
  );
}

/** The wire form of one resource record. */
export function encodeRecord(rr: ResourceRecord): Buffer {
  if (rr.data.length > 0xffff) throw new DnsWireError("record data longer than 65535 bytes");
  return new WireWriter()
    .bytes(encodeName(rr.name))
    .u16(rr.type)
    .u16(rr.class)
    .u32(rr.ttl)
    .u16(rr.data.length)
    .bytes(rr.data)
    .done();
}

/** The wire form of `msg` (no compression, no TSIG: see dns-tsig.ts to sign it). */
export function encodeMessage(msg: DnsMessage): Buffer {
  const w = new WireWriter()
    .u16(msg.id)
    .u16(encodeFlags(msg.flags))
    .u16(msg.questions.length)
    .u16(msg.answers.length)
    .u16(msg.authorities.length)
    .u16(msg.additionals.length);
  for (const q of msg.questions) w.bytes(encodeName(q.name)).u16(q.type).u16(q.class);
  for (const rr of [...msg.answers, ...msg.authorities, ...msg.additionals]) w.bytes(encodeRecord(rr));
  return w.done();
}

/** Reads fields of a received message, refusing to read past its end. */
class Reader {
  at = 0;
  constructor(readonly buf: Uint8Array) {}
  private need(n: number, what: string): void {
    if (this.at + n > this.buf.length) throw new DnsWireError(`message truncated in ${what}`);
  }
  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.at++]!;
  }
  u16(what: string): number {
    this.need(2, what);
    const v = (this.buf[this.at]! << 8) | this.buf[this.at + 1]!;
    this.at += 2;
    return v;
  }
  u32(what: string): number {
    return this.u16(what) * 0x10000 + this.u16(what);
  }
  u48(what: string): number {
    return this.u16(what) * 0x100000000 + this.u32(what);
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }
  /** A possibly compressed name; pointers must go strictly backwards (no loops). */
  name(what: string): string {
    const labels: string[] = [];
    let pos = this.at;
    let jumped = false;
    let limit = pos; // a pointer must point before the start of the part that holds it
    for (;;) {
      if (pos >= this.buf.length) throw new DnsWireError(`message truncated in ${what}`);
      const len = this.buf[pos]!;
      if ((len & 0xc0) === 0xc0) {
        if (pos + 1 >= this.buf.length) throw new DnsWireError(`message truncated in ${what}`);
        const target = ((len & 0x3f) << 8) | this.buf[pos + 1]!;
        if (target >= limit) throw new DnsWireError(`bad compression pointer in ${what}`);
        if (!jumped) this.at = pos + 2;
        jumped = true;
        pos = target;
        limit = target;
        continue;
      }
      if (len & 0xc0) throw new DnsWireError(`unsupported label type in ${what}`);
      if (len === 0) {
        if (!jumped) this.at = pos + 1;
        break;
      }
      if (pos + 1 + len > this.buf.length) throw new DnsWireError(`message truncated in ${what}`);
      labels.push(labelText(this.buf.subarray(pos + 1, pos + 1 + len)));
      pos += 1 + len;
    }
    return labels.length === 0 ? "." : `${labels.join(".")}.`;
  }
}

/** Presentation text of one label: `.` `\` and bytes outside printable ASCII escaped. */
function labelText(b: Uint8Array): string {
  let s = "";
  for (const c of b) {
    if (c === 0x2e || c === 0x5c) s += `\\${String.fromCharCode(c)}`;
    else if (c > 0x20 && c < 0x7f) s += String.fromCharCode(c);
    else s += `\\${String(c).padStart(3, "0")}`;
  }
  return s;
}

function decodeFlags(v: number): Flags {
  return {
    qr: (v & 0x8000) !== 0,
    opcode: (v >> 11) & 0xf,
    aa: (v & 0x400) !== 0,
    tc: (v & 0x200) !== 0,
    rd: (v & 0x100) !== 0,
    ra: (v & 0x80) !== 0,
    rcode: v & 0xf,
  };
}

/** Whether the TC (truncated) bit is set in a received message's header. */
export function isTruncated(buf: Uint8Array): boolean {
  return buf.length >= 4 && (buf[2]! & 0x02) !== 0;
}

/** Decode a received message; throws {@link DnsWireError} for a malformed one. */
export function decodeMessage(buf: Uint8Array): DecodedMessage {
  const r = new Reader(buf);
  const id = r.u16("header");
  const flags = decodeFlags(r.u16("header"));
  const counts = [r.u16("header"), r.u16("header"), r.u16("header"), r.u16("header")] as const;
  const questions: Question[] = [];
  for (let i = 0; i < counts[0]; i++) {
    questions.push({ name: r.name("question"), type: r.u16("question"), class: r.u16("question") });
  }
  const sections: ResourceRecord[][] = [[], [], []];
  let tsig: DecodedTsig | null = null;
  for (let s = 0; s < 3; s++) {
    for (let i = 0; i < counts[s + 1]!; i++) {
      const start = r.at;
      const name = r.name("record owner");
      const type = r.u16("record");
      const klass = r.u16("record");
      const ttl = r.u32("record");
      const len = r.u16("record");
      const dataStart = r.at;
      const data = r.bytes(len, "record data");
      if (type === RRType.TSIG) {
        if (s !== 2 || i !== counts[3] - 1) throw new DnsWireError("TSIG record is not the last record");
        const t = new Reader(buf);
        t.at = dataStart;
        const algorithm = t.name("TSIG algorithm");
        const timeSigned = t.u48("TSIG time");
        const fudge = t.u16("TSIG fudge");
        const mac = t.bytes(t.u16("TSIG MAC size"), "TSIG MAC");
        const originalId = t.u16("TSIG original id");
        const error = t.u16("TSIG error");
        const other = t.bytes(t.u16("TSIG other length"), "TSIG other data");
        if (t.at !== dataStart + len) throw new DnsWireError("TSIG record data has the wrong length");
        tsig = {
          keyName: name,
          class: klass,
          ttl,
          algorithm,
          timeSigned,
          fudge,
          mac,
          originalId,
          error,
          other,
          start,
        };
        continue;
      }
      sections[s]!.push({ name, type, class: klass, ttl, data });
    }
  }
  // A reply to a message with a TSIG record carries the extended RCODE in the TSIG error for
  // TSIG failures; the 12-bit extended RCODE of EDNS (OPT) is not used by this handler.
  return {
    id,
    flags,
    questions,
    answers: sections[0]!,
    authorities: sections[1]!,
    additionals: sections[2]!,
    tsig,
  };
}
