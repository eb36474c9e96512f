/**
 * A TSIG-signed DNS client for one authoritative server: reading an RRset and sending one
 * RFC 2136 update. Every request is signed and every answer's signature checked
 * (dns-tsig.ts), so neither a forged answer nor an unauthenticated server is believed.
 *
 * Errors: {@link DnsTransportError} (unreachable, timeout), {@link TsigError} (BADSIG,
 * BADKEY, BADTIME, or an answer that does not verify), {@link DnsServerError} (any other
 * refusal: REFUSED, NOTAUTH, NOTZONE, SERVFAIL, ...). A failed update prerequisite is not an
 * error: {@link DnsClient.update} reports it, for the caller to re-read and retry.
 */
import { randomInt } from "node:crypto";
import { type DnsServer, exchange, serverText } from "./dns-transport.ts";
import { type TsigKey, signMessage, verifyAnswer } from "./dns-tsig.ts";
import {
  canonicalName,
  type DecodedMessage,
  type DnsMessage,
  DnsWireError,
  decodeMessage,
  encodeMessage,
  Opcode,
  type ResourceRecord,
  RRClass,
  RRType,
  Rcode,
  rcodeName,
} from "./dns-wire.ts";

/** The server answered with an error code; `code` is its mnemonic (`REFUSED`, ...). */
export class DnsServerError extends Error {
  override readonly name = "DnsServerError";
  /** The response code mnemonic. */
  readonly code: string;
  /**
   * @param code the response code mnemonic.
   * @param message the whole message.
   */
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** Options of {@link DnsClient}. */
export interface DnsClientOptions {
  readonly server: DnsServer;
  readonly key: TsigKey;
  /** How long to wait for each answer. */
  readonly timeoutMs: number;
}

/** How an update ended: applied, or refused because a prerequisite did not hold (`rcode` says which kind). */
export type UpdateResult = { readonly ok: true } | { readonly ok: false; readonly rcode: string };

/** Response codes meaning "a prerequisite did not hold" (RFC 2136 section 3.2). */
const PREREQUISITE_FAILED: readonly number[] = [Rcode.YXDOMAIN, Rcode.YXRRSET, Rcode.NXDOMAIN, Rcode.NXRRSET];

const flags = (opcode: number) => ({
  qr: false,
  opcode,
  aa: false,
  tc: false,
  rd: false,
  ra: false,
  rcode: 0,
});

/** A signed client of one server with one key. */
export class DnsClient {
  /** @param o the server, key and timeout. */
  constructor(private readonly o: DnsClientOptions) {}

  /** The server as `host:port`, for messages. */
  get serverText(): string {
    return serverText(this.o.server);
  }

  /** Send a request (signed) and return its verified answer. */
  private async send(msg: DnsMessage, what: string): Promise<DecodedMessage> {
    const signed = signMessage(encodeMessage(msg), this.o.key);
    const raw = await exchange(this.o.server, signed.wire, { timeoutMs: this.o.timeoutMs });
    let answer: DecodedMessage;
    try {
      answer = decodeMessage(raw);
    } catch (e) {
      throw new DnsServerError(
        "FORMERR",
        `malformed answer from ${this.serverText} to ${what}: ${(e as DnsWireError).message}`,
      );
    }
    if (!answer.flags.qr || answer.flags.opcode !== msg.flags.opcode) {
      throw new DnsServerError(
        "FORMERR",
        `the answer from ${this.serverText} to ${what} is not a reply to it`,
      );
    }
    if (!answer.tsig && answer.flags.rcode !== Rcode.NOERROR) {
      // An unsigned refusal proves nothing, but it is still the reason this run cannot go on.
      throw this.refusal(answer.flags.rcode, what, " (unsigned answer)");
    }
    verifyAnswer(raw, answer, this.o.key, signed.mac);
    return answer;
  }

  private refusal(rcode: number, what: string, suffix = ""): DnsServerError {
    const code = rcodeName(rcode);
    const hints: Record<string, string> = {
      REFUSED: `: does the zone's allow-update (or allow-query) admit key ${this.o.key.name}?`,
      NOTAUTH: ": it is not authoritative (primary) for the zone",
      NOTZONE: ": the name is not inside the zone",
      SERVFAIL: ": the server failed (see its log)",
    };
    return new DnsServerError(
      code,
      `DNS server ${this.serverText} answered ${code} to ${what}${hints[code] ?? ""}${suffix}`,
    );
  }

  /**
   * The records of type `type` (class IN) at `name`, as the server holds them; none when the
   * name or RRset does not exist. The answer must be authoritative (AA).
   */
  async query(name: string, type: number): Promise<ResourceRecord[]> {
    const what = `the query for ${canonicalName(name)} type ${type}`;
    const answer = await this.send(
      {
        id: randomInt(0x10000),
        flags: flags(Opcode.QUERY),
        questions: [{ name, type, class: RRClass.IN }],
        answers: [],
        authorities: [],
        additionals: [],
      },
      what,
    );
    const rcode = answer.flags.rcode;
    if (rcode !== Rcode.NOERROR && rcode !== Rcode.NXDOMAIN) throw this.refusal(rcode, what);
    if (!answer.flags.aa) {
      throw new DnsServerError(
        "NOTAUTH",
        `DNS server ${this.serverText} is not authoritative for ${canonicalName(name)}: point --server at the zone's primary`,
      );
    }
    const owner = canonicalName(name);
    return answer.answers.filter(
      (rr) => rr.type === type && rr.class === RRClass.IN && canonicalName(rr.name) === owner,
    );
  }

  /**
   * Send one RFC 2136 update of `zone`: all `prerequisites` must hold, then all `updates`
   * are applied, in one transaction on the server.
   */
  async update(
    zone: string,
    prerequisites: readonly ResourceRecord[],
    updates: readonly ResourceRecord[],
  ): Promise<UpdateResult> {
    const what = `the update of zone ${canonicalName(zone)}`;
    const answer = await this.send(
      {
        id: randomInt(0x10000),
        flags: flags(Opcode.UPDATE),
        questions: [{ name: zone, type: RRType.SOA, class: RRClass.IN }],
        answers: prerequisites,
        authorities: updates,
        additionals: [],
      },
      what,
    );
    const rcode = answer.flags.rcode;
    if (rcode === Rcode.NOERROR) return { ok: true };
    if (PREREQUISITE_FAILED.includes(rcode)) return { ok: false, rcode: rcodeName(rcode) };
    throw this.refusal(rcode, what);
  }
}
