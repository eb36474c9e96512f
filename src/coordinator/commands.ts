/**
 * The typed commands of Conclave's replicated state machine, and their wire form (the data
 * of a Raft `normal` entry).
 */
import type { Event, EventFields } from "../contract/events.ts";
import { KV_MAX_KEY_BYTES, KV_MAX_VALUE_BYTES } from "../contract/limits.ts";
import { BadNameError, checkEventLimits } from "./command-limits.ts";
import { BadEventError, validateEventFields } from "./event-fields.ts";

/** The kv limits live with every other limit (contract/limits.ts); re-exported for callers here. */
export { KV_MAX_KEY_BYTES, KV_MAX_VALUE_BYTES };

/** A command of the replicated state machine. */
export type Command =
  | { readonly type: "kv-put"; readonly key: string; readonly value: string }
  | { readonly type: "kv-delete"; readonly key: string }
  /** Append an event to the audit log; its id and term come from the entry that commits it. */
  | { readonly type: "event"; readonly event: EventFields };

/** What applying a command produced, handed back to the proposer. */
export type CommandResult =
  | { readonly type: "kv-put"; readonly revision: number }
  | { readonly type: "kv-delete"; readonly deleted: boolean; readonly revision: number }
  | { readonly type: "event"; readonly event: Event };

/** A command that could not be decoded or fails validation. */
export class BadCommandError extends Error {
  override readonly name = "BadCommandError";
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Why a key is unacceptable, or null. */
export function keyProblem(key: unknown): string | null {
  if (typeof key !== "string" || key.length === 0) return "key must be a non-empty string";
  if (Buffer.byteLength(key) > KV_MAX_KEY_BYTES)
    return `key is longer than ${KV_MAX_KEY_BYTES} bytes (1 KiB)`;
  return null;
}

/** Why a value is unacceptable, or null. */
export function valueProblem(value: unknown): string | null {
  if (typeof value !== "string") return "value must be a string";
  const n = Buffer.byteLength(value);
  if (n > KV_MAX_VALUE_BYTES) return `value is ${n} bytes; the limit is ${KV_MAX_VALUE_BYTES} (64 KiB)`;
  return null;
}

/**
 * Check a command before it is proposed or after it is decoded. Every elector applies the
 * same bytes, so validation must be deterministic and must not depend on local state.
 * @throws BadCommandError naming the problem (a bad name included); LimitExceededError
 *   (command-limits.ts) for an event past a size or count limit
 */
export function validateCommand(c: unknown): Command {
  if (typeof c !== "object" || c === null) throw new BadCommandError("command must be an object");
  const o = c as Record<string, unknown>;
  switch (o.type) {
    case "kv-put": {
      const p = keyProblem(o.key) ?? valueProblem(o.value);
      if (p) throw new BadCommandError(`kv-put: ${p}`);
      return { type: "kv-put", key: o.key as string, value: o.value as string };
    }
    case "kv-delete": {
      const p = keyProblem(o.key);
      if (p) throw new BadCommandError(`kv-delete: ${p}`);
      return { type: "kv-delete", key: o.key as string };
    }
    case "event":
      try {
        const event = validateEventFields(o.event);
        checkEventLimits(event);
        return { type: "event", event };
      } catch (e) {
        if (e instanceof BadEventError || e instanceof BadNameError) throw new BadCommandError(e.message);
        throw e;
      }
    default:
      throw new BadCommandError(`unknown command type ${JSON.stringify(o.type)}`);
  }
}

/** Encode a command as entry data. */
export function encodeCommand(c: Command): Uint8Array {
  return encoder.encode(JSON.stringify(c));
}

/** Decode entry data into a validated command. @throws BadCommandError */
export function decodeCommand(data: Uint8Array): Command {
  let v: unknown;
  try {
    v = JSON.parse(decoder.decode(data));
  } catch {
    throw new BadCommandError("entry data is not JSON");
  }
  return validateCommand(v);
}
