/**
 * The one name rule: members (node names), electors, services, checks and handlers. A name is
 * what other nodes, handlers and the CLI print and key maps by, so it is short, printable and
 * the same on every node: the config schema, the member report service, the control API, the
 * elector's conf-change gate and the state machine's apply all ask {@link nameProblem}.
 *
 * Pure and deterministic (the state machine applies it): it reads nothing but its arguments.
 */
import { NAME_MAX_BYTES } from "./limits.ts";

/** ASCII only, so characters and bytes are the same count; the length is checked apart. */
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** The rule in words, for every message that refuses a name. */
export const NAME_RULE = `letters, digits, '.', '_' and '-', starting with a letter or digit, at most ${NAME_MAX_BYTES} characters`;

/** Longest prefix of a refused value a message repeats: a 750 KB name must not become a 4.5 MB log line. */
const SHOWN_CHARS = 80;

/**
 * A value as a refusal message shows it: JSON-quoted (so control characters and terminal
 * escapes come out as `\u001b`, never raw) and cut to {@link SHOWN_CHARS} characters with
 * its full length named.
 */
export function quoteName(value: string): string {
  if (value.length <= SHOWN_CHARS) return JSON.stringify(value);
  return `${JSON.stringify(value.slice(0, SHOWN_CHARS))}... (${value.length} characters)`;
}

/** Why `value` is not a valid name of a `what` (node, elector, handler, check, service, member), or null. */
export function nameProblem(what: string, value: unknown): string | null {
  if (typeof value !== "string") return `a ${what} name must be a string`;
  if (value.length <= NAME_MAX_BYTES && NAME_RE.test(value)) return null;
  return `${quoteName(value)} is not a valid ${what} name: use ${NAME_RULE}`;
}
