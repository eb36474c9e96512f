/**
 * What a membership change (a Raft `conf` entry) must be before anything applies it: data
 * Raft can decode, an elector name by the one name rule, and an address of bounded length.
 * The elector asks it before a conf entry reaches Raft (its own proposals and entries from
 * the leader), so a change that would make the next snapshot unwritable (a 70,000-byte
 * elector name does: names are stored with a u16 length) is refused instead of persisted.
 * Not at apply time: raft takes a configuration from its log without asking the state
 * machine, so a refusal there would only make the two disagree (state-machine.ts).
 */
import { decodeConfChange } from "../../raft/index.ts";
import { MEMBER_ADDRESS_MAX_BYTES } from "../contract/limits.ts";
import { nameProblem } from "../contract/names.ts";

/** Why the data of a conf entry cannot be applied, or null. Deterministic. */
export function confChangeEntryProblem(data: Uint8Array): string | null {
  let cc;
  try {
    cc = decodeConfChange(data);
  } catch (e) {
    return (e as Error).message;
  }
  const p = nameProblem("elector", cc.node);
  if (p !== null) return `conf change: ${p}`;
  if (cc.context !== undefined && Buffer.byteLength(cc.context) > MEMBER_ADDRESS_MAX_BYTES) {
    return `conf change: the address of ${cc.node} is longer than ${MEMBER_ADDRESS_MAX_BYTES} bytes`;
  }
  return null;
}
