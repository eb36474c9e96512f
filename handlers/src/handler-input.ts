/**
 * What every shipped handler reads: the `CONCLAVE_*` environment and the JSON document on
 * standard input, as the handler contract (docs/handler-contract.md) gives them. One parser for all handlers,
 * so a malformed input is refused the same way everywhere (a {@link HandlerInputError}
 * naming the variable or field), which the runner records and retries.
 */
import { isMemberStatus } from "../../src/contract/member-status.ts";
import type {
  MemberView as CommittedMemberView,
  ServiceView as CommittedServiceView,
} from "../../src/contract/member-view.ts";

/** A bad environment or stdin document: the message names the variable or field. */
export class HandlerInputError extends Error {
  override readonly name = "HandlerInputError";
}

/**
 * A service as the committed member view shows it (contract/member-view.ts). Each field is
 * optional here: the parser passes services through without checking them, so a handler must
 * not rely on a field being present.
 */
export type ServiceView = Partial<CommittedServiceView>;

/**
 * One member of the committed view on stdin: the contract's shape (contract/member-view.ts),
 * with name, address and status checked by {@link parseHandlerStdin} and services as
 * {@link ServiceView}.
 */
export type MemberView = Omit<CommittedMemberView, "services"> & {
  readonly services: Readonly<Record<string, ServiceView>>;
};

/** The committed event the handler runs for. */
export interface EventView {
  readonly id: number;
  readonly term: number;
  readonly type: string;
  readonly member: string | null;
  readonly service: string | null;
  readonly details: Readonly<Record<string, unknown>>;
}

/** The `CONCLAVE_*` environment. */
export interface HandlerEnv {
  readonly event: string;
  readonly eventId: number;
  readonly term: number;
  /** `CONCLAVE_FENCE` as given (`term:index`). */
  readonly fence: string;
  /** The fence as two numbers, for comparing with {@link compareFences}. */
  readonly fenceParts: readonly [term: number, index: number];
  readonly attempt: number;
  readonly handler: string;
  readonly member: string;
  readonly memberAddress: string;
  readonly service: string;
  readonly cluster: string;
}

/** Everything a handler is given. */
export interface HandlerInput {
  readonly env: HandlerEnv;
  readonly event: EventView;
  readonly members: readonly MemberView[];
}

/** Parse `term:index`; throws {@link HandlerInputError} naming `what` when malformed. */
export function parseFence(text: string, what = "CONCLAVE_FENCE"): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  if (!m) throw new HandlerInputError(`${what} must be TERM:INDEX, got ${JSON.stringify(text)}`);
  return [Number(m[1]), Number(m[2])];
}

/** Negative, zero or positive as fence `a` is older than, equal to or newer than `b`. */
export function compareFences(a: readonly [number, number], b: readonly [number, number]): number {
  return a[0] !== b[0] ? a[0] - b[0] : a[1] - b[1];
}

function needInt(env: NodeJS.ProcessEnv, key: string): number {
  const v = env[key];
  if (v === undefined || !/^\d+$/.test(v)) {
    throw new HandlerInputError(
      `${key} must be a whole number, got ${v === undefined ? "nothing" : JSON.stringify(v)}`,
    );
  }
  return Number(v);
}

/** Read the `CONCLAVE_*` variables of `env`; throws {@link HandlerInputError} on a bad one. */
export function parseHandlerEnv(env: NodeJS.ProcessEnv): HandlerEnv {
  const event = env.CONCLAVE_EVENT;
  if (!event) throw new HandlerInputError("CONCLAVE_EVENT is not set: run this as a Conclave handler");
  const fence = env.CONCLAVE_FENCE ?? "";
  return {
    event,
    eventId: needInt(env, "CONCLAVE_EVENT_ID"),
    term: needInt(env, "CONCLAVE_TERM"),
    fence,
    fenceParts: parseFence(fence),
    attempt: needInt(env, "CONCLAVE_ATTEMPT"),
    handler: env.CONCLAVE_HANDLER ?? "",
    member: env.CONCLAVE_MEMBER ?? "",
    memberAddress: env.CONCLAVE_MEMBER_ADDRESS ?? "",
    service: env.CONCLAVE_SERVICE ?? "",
    cluster: env.CONCLAVE_CLUSTER ?? "",
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Validate the stdin document; throws {@link HandlerInputError} naming the bad field. */
export function parseHandlerStdin(text: string): { event: EventView; members: MemberView[] } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new HandlerInputError(`standard input is not JSON: ${(e as Error).message}`);
  }
  if (!isObject(doc)) throw new HandlerInputError("standard input must be a JSON object");
  const ev = doc.event;
  if (!isObject(ev) || typeof ev.id !== "number" || typeof ev.type !== "string") {
    throw new HandlerInputError("stdin: event must be an object with a numeric id and a type");
  }
  if (!Array.isArray(doc.members)) throw new HandlerInputError("stdin: members must be an array");
  const members = doc.members.map((m: unknown, i: number): MemberView => {
    if (
      !isObject(m) ||
      typeof m.name !== "string" ||
      typeof m.address !== "string" ||
      typeof m.status !== "string"
    ) {
      throw new HandlerInputError(`stdin: members[${i}] needs string name, address and status`);
    }
    if (!isMemberStatus(m.status)) {
      throw new HandlerInputError(`stdin: members[${i}].status is ${JSON.stringify(m.status)}`);
    }
    return {
      name: m.name,
      address: m.address,
      status: m.status,
      checks: isObject(m.checks) ? (m.checks as MemberView["checks"]) : {},
      services: isObject(m.services) ? (m.services as MemberView["services"]) : {},
    };
  });
  const event: EventView = {
    id: ev.id,
    term: typeof ev.term === "number" ? ev.term : 0,
    type: ev.type,
    member: typeof ev.member === "string" ? ev.member : null,
    service: typeof ev.service === "string" ? ev.service : null,
    details: isObject(ev.details) ? ev.details : {},
  };
  return { event, members };
}

/** Read all of standard input as text. */
export async function readStdin(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === "string" ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString("utf8");
}

/** The whole input of a run: the `CONCLAVE_*` environment and the stdin document, both checked. */
export async function readHandlerInput(
  env: NodeJS.ProcessEnv = process.env,
  stdin: NodeJS.ReadableStream = process.stdin,
): Promise<HandlerInput> {
  return { env: parseHandlerEnv(env), ...parseHandlerStdin(await readStdin(stdin)) };
}

/** The host part of `host:port` (brackets of an IPv6 host removed). */
export function hostOf(address: string): string {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (v6) return v6[1]!;
  const i = address.lastIndexOf(":");
  return i >= 0 && address.indexOf(":") === i ? address.slice(0, i) : address;
}

/**
 * Run a handler's `main`: a {@link HandlerInputError} or any other failure prints one line
 * `NAME: message` on stderr and exits 1 (so the runner retries); `main`'s number is the
 * exit code otherwise.
 */
export function runMain(name: string, main: () => Promise<number>): void {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
