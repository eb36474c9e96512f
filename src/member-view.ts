/**
 * The committed view of a member's services, as `conclave members` and a handler's stdin show
 * it (DESIGN.md: `"services": {NAME: {"state", "master", "epoch"}}`). Derived only from
 * committed state, so every elector shows the same: `state` is `master` for the committed
 * master, `failing` when the service's status check is failing, `standby` otherwise; `epoch`
 * is the service's current master epoch.
 */
import type { MastersState } from "./masters-state.ts";
import type { MemberRecord } from "./members-state.ts";
import { serviceCheckName } from "./service-manager.ts";

/** One service of one member. */
export interface ServiceView {
  readonly state: "master" | "standby" | "failing";
  readonly master: boolean;
  readonly epoch: number;
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
