/**
 * Builds the committed view of a member ({@link MemberView}, whose shape contract/member-view.ts
 * declares) from the member table and the masters section. Derived only from committed state,
 * so every elector shows the same: a service's `state` is `master` for the committed master,
 * `failing` when the service's status check is failing, `pending` while it is pending,
 * `standby` otherwise; `epoch` is the service's current master epoch.
 */
import { serviceCheckName } from "../contract/check-state.ts";
import type { MemberView, ServiceView } from "../contract/member-view.ts";
import type { MastersState } from "./masters-state.ts";
import type { CommittedMember } from "./members-state.ts";

/** The committed view of member `m` (the `members` shape of docs/handler-contract.md). */
export function memberView(m: CommittedMember, masters: MastersState): MemberView {
  return {
    name: m.name,
    address: m.address,
    status: m.status,
    checks: { ...m.checks },
    services: memberServices(m, masters),
  };
}

/** The services of `m`, keyed by name, in the order the member declared them. */
export function memberServices(
  m: Pick<CommittedMember, "name" | "services" | "checks">,
  masters: MastersState,
): Record<string, ServiceView> {
  const out: Record<string, ServiceView> = {};
  for (const s of m.services) {
    const rec = masters.get(s);
    const master = rec?.master === m.name;
    const status = m.checks[serviceCheckName(s)];
    const state = master ? "master" : status === "failing" || status === "pending" ? status : "standby";
    out[s] = { state, master, epoch: rec?.epoch ?? 0 };
  }
  return out;
}
