/**
 * The fault-injection switch (docs/fault-injection.md): `CONCLAVE_INJECT_BUG=NAME` switches on
 * one known bug, so that the fault campaign (test/campaign/) can show its checkers fail. It is
 * read once, when `conclave agent` starts (src/agent.ts), validated against the fixed list
 * {@link INJECTABLE_BUGS} (an unknown name stops the agent with exit 2 and the list), and
 * logged at error level. The agent's composition root then picks an alternative
 * implementation at one existing seam per bug (elector-faults.ts, member-faults.ts): the
 * production logic itself has no branch on it.
 *
 * Imports nothing: both roles read it.
 */

/** Every bug the switch knows, with what it breaks. */
export const INJECTABLE_BUGS = {
  "handler-no-lease":
    "handler runs start without their lease watchdog: only the leader's own kill on leadership loss ends them",
  "checks-start-passing": "a (re)started agent's checks start passing instead of pending",
  "master-no-lease-wait": "the leader promotes a new master without waiting out the old master's lease",
  "follower-read-no-readindex":
    "a follower answers control reads (kv get/list, ...) from its own applied state, without ReadIndex",
} as const;

/** The name of a bug the switch knows. */
export type InjectedBug = keyof typeof INJECTABLE_BUGS;

/** The environment variable of the switch. */
export const INJECT_BUG_ENV = "CONCLAVE_INJECT_BUG";

/** Every name {@link INJECTABLE_BUGS} knows, in its order. */
export const INJECTABLE_BUG_NAMES = Object.keys(INJECTABLE_BUGS) as InjectedBug[];

/** `CONCLAVE_INJECT_BUG` names a bug the switch does not know. */
export class UnknownInjectedBugError extends Error {
  override readonly name = "UnknownInjectedBugError";
  constructor(readonly value: string) {
    super(
      `${INJECT_BUG_ENV}=${JSON.stringify(value)}: not a known bug; known: ${INJECTABLE_BUG_NAMES.join(", ")} (unset it to run without fault injection)`,
    );
  }
}

/** Whether `name` is a bug the switch knows. */
export function isInjectedBug(name: string): name is InjectedBug {
  return Object.hasOwn(INJECTABLE_BUGS, name);
}

/**
 * The bug `env` switches on: null when `CONCLAVE_INJECT_BUG` is unset or empty.
 * @throws UnknownInjectedBugError for a name not in {@link INJECTABLE_BUGS}
 */
export function injectedBugFromEnv(env: Readonly<Record<string, string | undefined>>): InjectedBug | null {
  const raw = env[INJECT_BUG_ENV];
  if (raw === undefined || raw.trim() === "") return null;
  const name = raw.trim();
  if (!isInjectedBug(name)) throw new UnknownInjectedBugError(raw);
  return name;
}

/** The line the agent logs at error level when it starts with a bug switched on. */
export function faultInjectionWarning(bug: InjectedBug): string {
  return `FAULT INJECTION ON: ${bug} — never in production (${INJECTABLE_BUGS[bug]})`;
}
