/**
 * The cluster-wide checks one member refuses to run (docs/checks.md#remote-commands): a
 * `command` check, or any check with an `action`, that arrived through `conclave checks apply`
 * on a member whose config does not set `allow_remote_commands: true`. The member says which
 * and why, for the version of the set it judged; the leader commits that as `checks-refused`
 * (docs/events.md) when it differs from the committed refusals of that member, and every
 * elector folds it into the cluster-checks section, so `conclave checks list` shows the same
 * on every elector and after any leader change.
 *
 * One shape for the member's report (proto `ChecksRefused`), the event's details and the
 * committed record. Pure and deterministic (the state machine applies it): it reads nothing
 * but its arguments. Like the rest of `contract/` it imports nothing but `contract/`.
 */
import { CLUSTER_CHECKS_MAX } from "./limits.ts";
import { nameProblem } from "./names.ts";

/** Longest reason kept for one refused check, in characters; longer ones are cut, not refused. */
export const REFUSAL_REASON_MAX_CHARS = 200;

/** The checks one member refuses, by name, each with why; empty when it runs them all. */
export type RefusedChecks = Readonly<Record<string, string>>;

/** What a member refuses of one version of the cluster-wide checks. */
export interface CheckRefusals {
  /** The version it judged: the id of the `checks-updated` event (0: none). */
  readonly version: number;
  /** Refused check name → reason, keys sorted; `{}` when it refuses nothing. */
  readonly refused: RefusedChecks;
}

/** One refused check as the member report carries it (proto `RefusedCheck`). */
export interface RefusedCheckWire {
  readonly name: string;
  readonly reason: string;
}

/** A member's refusals as the member report carries them (proto `ChecksRefused`). */
export interface CheckRefusalsWire {
  readonly version: number;
  readonly checks: readonly RefusedCheckWire[];
}

/** The outcome of reading refusals from a peer or an event: the normalized value, or why not. */
export type RefusalsParse =
  | { readonly kind: "ok"; readonly refusals: CheckRefusals }
  | { readonly kind: "bad"; readonly problem: string };

/** `refused` with its keys sorted and each reason cut to {@link REFUSAL_REASON_MAX_CHARS}. */
export function normalRefused(refused: Readonly<Record<string, string>>): RefusedChecks {
  const out: Record<string, string> = {};
  for (const name of Object.keys(refused).sort()) {
    out[name] = refused[name]!.slice(0, REFUSAL_REASON_MAX_CHARS);
  }
  return out;
}

/** Whether two refusal maps say the same (both normalized by {@link normalRefused}). */
export function sameRefused(a: RefusedChecks, b: RefusedChecks): boolean {
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}

/** The wire form of `r` (what a member sends). */
export function refusalsToWire(r: CheckRefusals): CheckRefusalsWire {
  return {
    version: r.version,
    checks: Object.entries(r.refused).map(([name, reason]) => ({ name, reason })),
  };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function versionProblem(v: unknown): string | null {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0
    ? null
    : "the version must be a whole number ≥ 0";
}

/** Check and normalize one list of (name, reason) pairs, however they were carried. */
function fromPairs(version: number, pairs: readonly [unknown, unknown][]): RefusalsParse {
  if (pairs.length > CLUSTER_CHECKS_MAX) {
    return {
      kind: "bad",
      problem: `${pairs.length} refused checks; there are at most ${CLUSTER_CHECKS_MAX} cluster-wide checks`,
    };
  }
  const refused: Record<string, string> = {};
  for (const [name, reason] of pairs) {
    const p = nameProblem("check", name);
    if (p !== null) return { kind: "bad", problem: p };
    if (typeof reason !== "string")
      return { kind: "bad", problem: `the reason for ${String(name)} must be text` };
    if (Object.hasOwn(refused, name as string)) {
      return { kind: "bad", problem: `check ${String(name)} is refused twice` };
    }
    refused[name as string] = reason;
  }
  return { kind: "ok", refusals: { version, refused: normalRefused(refused) } };
}

/** Read the refusals of a member report (proto `ChecksRefused`, as grpc-js decodes it). */
export function refusalsFromWire(v: unknown): RefusalsParse {
  if (!isObject(v)) return { kind: "bad", problem: "refusals must be an object" };
  const vp = versionProblem(v.version);
  if (vp !== null) return { kind: "bad", problem: vp };
  const checks = v.checks ?? [];
  if (!Array.isArray(checks)) return { kind: "bad", problem: "the refused checks must be a list" };
  const pairs: [unknown, unknown][] = [];
  for (const c of checks as unknown[]) {
    if (!isObject(c)) return { kind: "bad", problem: "each refused check must be an object" };
    pairs.push([c.name, c.reason]);
  }
  return fromPairs(v.version as number, pairs);
}

/** Read the details of a `checks-refused` event: `{version, refused: {NAME: REASON}}`. */
export function refusalsFromDetails(d: unknown): RefusalsParse {
  if (!isObject(d)) return { kind: "bad", problem: "details must be an object" };
  const vp = versionProblem(d.version);
  if (vp !== null) return { kind: "bad", problem: vp };
  if (!isObject(d.refused)) return { kind: "bad", problem: "details.refused must be an object" };
  return fromPairs(d.version as number, Object.entries(d.refused));
}
