/**
 * The member's half of the fault-injection switch (injected-bug.ts): for the bug switched on,
 * the alternative member/start-member.ts wires in at one of its seams.
 *
 * - `checks-start-passing`: the checks of a (re)started agent start `passing` instead of
 *   `pending` (member/checks/member-checks.ts `startState`), so the agent registers them as
 *   passing before it has run them once.
 */
import type { CheckState } from "../contract/check-state.ts";
import type { InjectedBug } from "./injected-bug.ts";

/** What a member wires in at its seams; an absent field means the production default. */
export interface MemberFaults {
  readonly checkStartState?: CheckState;
}

/** The member's alternatives for `bug` (none for no bug, or a bug of the elector side). */
export function memberFaults(bug: InjectedBug | null): MemberFaults {
  return bug === "checks-start-passing" ? { checkStartState: "passing" } : {};
}
