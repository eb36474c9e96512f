/**
 * The committed view of a member's services, as `conclave members` and a handler's stdin show
 * it (DESIGN.md: `"services": {NAME: {"state", "master", "epoch"}}`). Derived only from
 * committed state, so every elector shows the same: `state` is `master` for the committed
 * master, `failing` when the service's status check is failing, `standby` otherwise; `epoch`
 * is the service's current master epoch.
 */
import type { MastersState } from "./masters-state.ts";
import type { MemberRecord } from "./members-state.ts";
import { type CheckState, serviceCheckName } from "../contract/check-state.ts";

/** One service of one member. */
export interface ServiceView {
  readonly state: "master" | "standby" | "failing";
  readonly master: boolean;
  readonly epoch: number;
}

/** One member as `conclave members`, a handler's stdin and the status page show it. */
export interface MemberView {
  readonly name: string;
  readonly address: string;
  readonly status: string;
  readonly checks: Readonly<Record<string, CheckState>>;
  readonly services: Record<string, ServiceView>;
}

/** The committed view of member `m` (DESIGN.md's `members` shape). */
export function memberView(m: MemberRecord, masters: MastersState): MemberView {
  return {
    name: m.name,
    address: m.address,
    status: m.status,
    checks: { ...m.checks },
    services: memberServices(m, masters),
  };
}

/** The services of `m`, keyed by name. */
export function memberServices(m: MemberRecord, masters: MastersState): Record<string, ServiceView> {
  const out: Record<string, ServiceView> = {};
  for (const s of m.services) {
    const rec = masters.get(s);
    const master = rec?.master === m.name;
    const failing = m.checks[serviceCheckName(s)] === "failing";
    out[s] = { state: master ? "master" : failing ? "failing" : "standby", master, epoch: rec?.epoch ?? 0 };
  }
  return out;
}
