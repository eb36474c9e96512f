/**
 * The field rules shared by the config schema and the check schema: names, non-empty strings,
 * `host:port`, durations and commands, as zod schemas whose messages read like the rest of the
 * config errors, and the unique-name rule for lists (handlers, checks).
 *
 * A duration or command field is `z.unknown()` with a transform rather than a typed schema, so
 * that a wrong value gets our message (`bare number 250 is not a duration; add a unit`) instead
 * of zod's generic type error.
 */
import { ConfigError, describe, quote } from "./config-error.ts";
import { formatDuration, parseDuration } from "./duration.ts";
import { splitHostPort } from "./host-port.ts";
import type { Run } from "./node-config.ts";
import { z } from "./zod.ts";

import { nameProblem } from "../contract/names.ts";

/** The one name rule lives in contract/names.ts (the state machine applies it too). */
export { nameProblem };

/** A name field of a `what`, by {@link nameProblem}. */
export function nameSchema(what: string) {
  return z.string().superRefine((s, ctx) => {
    const p = nameProblem(what, s);
    if (p) ctx.addIssue({ code: "custom", message: p });
  });
}

/** A string that must not be empty (paths, texts to look for). */
export const nonEmpty = z.string().min(1);

/** A `host:port` field, by `splitHostPort` (the one address rule). */
export const hostPortSchema = z.string().superRefine((s, ctx) => {
  try {
    splitHostPort(s);
  } catch (e) {
    ctx.addIssue({ code: "custom", message: (e as Error).message });
  }
});

/** A duration field: a string with a unit, greater than zero; `defaultMs` when absent. */
export function durationSchema(defaultMs: number) {
  return z
    .unknown()
    .optional()
    .transform((v, ctx): number => {
      if (v === undefined) return defaultMs;
      let problem: string;
      if (typeof v === "number") {
        problem = `bare number ${v} is not a duration; add a unit: ${v}ms, ${v}s or ${v}m`;
      } else if (typeof v === "string") {
        try {
          const ms = parseDuration(v);
          if (ms > 0) return ms;
          problem = `must be greater than 0, got ${quote(v)}`;
        } catch (e) {
          problem = (e as Error).message;
        }
      } else if (v === null) {
        problem = `has no value; write a duration such as 250ms, or leave the key out for the default (${formatDuration(defaultMs)})`;
      } else {
        problem = `must be a duration such as 250ms, 1.5s or 2m, got ${describe(v)}`;
      }
      ctx.addIssue({ code: "custom", message: problem, input: v });
      return z.NEVER;
    });
}

/**
 * A command: a non-blank string (shell) or a non-empty list of strings (argv); null when
 * absent and not `required`.
 */
export function commandSchema(required: boolean) {
  return z
    .unknown()
    .optional()
    .transform((v, ctx): Run | null => {
      const issue = (message: string, path: PropertyKey[] = []) => {
        ctx.addIssue({ code: "custom", message, path, input: v });
        return z.NEVER;
      };
      if (v === undefined) {
        return required ? issue("is required: a command line, or a list of arguments (argv)") : null;
      }
      if (typeof v === "string") {
        return v.trim() === "" ? issue("must not be empty") : { kind: "shell", command: v };
      }
      if (Array.isArray(v)) {
        if (v.length === 0) return issue("must not be empty: give the program and its arguments");
        const bad = v.findIndex((a) => typeof a !== "string");
        if (bad >= 0) return issue(`must be a string, got ${describe(v[bad])}`, [bad]);
        if ((v[0] as string).trim() === "") return issue("the program must not be empty", [0]);
        return { kind: "argv", argv: [...(v as string[])] };
      }
      return issue(`must be a command line (a string) or a list of arguments, got ${describe(v)}`);
    });
}

/**
 * The unique-name rule of a list: the second item with a name already used is an error at
 * `KEY[i].name` that also names the first.
 * @param what the kind of item, for the message (`handler`, `check`)
 * @param key the list's YAML key (`handlers`, `checks`)
 * @throws ConfigError
 */
export function uniqueNames(
  items: readonly { name: string }[],
  what: string,
  key: string,
  file: string,
): void {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    const j = first.get(item.name);
    if (j !== undefined) {
      throw new ConfigError(
        file,
        `${key}[${i}].name`,
        `duplicate ${what} name ${quote(item.name)} (also ${key}[${j}])`,
      );
    }
    first.set(item.name, i);
  });
}
