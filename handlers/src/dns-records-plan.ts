/**
 * Which A and AAAA records the managed name should have, given the committed member view:
 * pure, so every rule here is unit-tested without a DNS server.
 *
 * Rules:
 * - A member is listed when its status is `up` and, if a check is configured, that check is
 *   `passing`: not `failing`, not `pending` (its agent has just started or restarted and has
 *   not checked it enough yet: docs/checks.md#states), not any other state, and not missing
 *   (a member without the check is not listed). Its address host must be an IP
 *   literal: IPv4 gives an A record, IPv6 an AAAA record; any other host is skipped with a
 *   warning. Two members on one address give one record.
 * - The result never has fewer than `minRecords` records while the server has enough: when
 *   the listed set is smaller, records the server has now are kept, best first: the event's
 *   own member (it was up most recently), then members still listed as down or drained or
 *   whose check is not passing, then members that left, then addresses no member has. Each kept
 *   record is reported in a warning.
 */
import { hostOf, type MemberView } from "./handler-input.ts";
import { type IpAddress, parseIp } from "./ip-bytes.ts";

/** Options of {@link planRecords}. */
export interface PlanInput {
  readonly members: readonly MemberView[];
  /** The records the server has now (A and AAAA together). */
  readonly current: readonly IpAddress[];
  /** A check that must be passing for a member to be listed, or null. */
  readonly check: string | null;
  readonly minRecords: number;
  /** `CONCLAVE_MEMBER`: the member the event is about ("" when none). */
  readonly eventMember: string;
}

/** What {@link planRecords} decided: the records to have, and warnings for stderr. */
export interface Plan {
  readonly records: readonly IpAddress[];
  /** Records kept only to honour the minimum. */
  readonly kept: readonly IpAddress[];
  readonly warnings: readonly string[];
}

/** A total order on addresses: A before AAAA, then by bytes. */
export function compareIps(a: IpAddress, b: IpAddress): number {
  if (a.type !== b.type) return a.type === "A" ? -1 : 1;
  return Buffer.compare(a.bytes, b.bytes);
}

/** Whether `m` should be listed; the reason when it should not. */
function eligibility(m: MemberView, check: string | null): string | null {
  if (m.status !== "up") return m.status;
  if (check === null) return null;
  const state = m.checks[check];
  if (state === "passing") return null;
  return state === undefined ? `no check ${check}` : `check ${check} ${state}`;
}

/** The records the member view asks for, and warnings for members whose host is not an IP. */
export function desiredRecords(
  members: readonly MemberView[],
  check: string | null,
): { records: IpAddress[]; warnings: string[] } {
  const byText = new Map<string, IpAddress>();
  const warnings: string[] = [];
  for (const m of members) {
    if (eligibility(m, check) !== null) continue;
    const host = hostOf(m.address);
    const ip = parseIp(host);
    if (!ip) {
      warnings.push(
        `member ${m.name} skipped: its address host ${JSON.stringify(host)} is not an IP address`,
      );
      continue;
    }
    byText.set(ip.text, ip);
  }
  return { records: [...byText.values()].sort(compareIps), warnings };
}

/** Decide the records; see the module comment for the rules. */
export function planRecords(input: PlanInput): Plan {
  const { records, warnings } = desiredRecords(input.members, input.check);
  const missing = input.minRecords - records.length;
  if (missing <= 0) return { records, kept: [], warnings };

  const listed = new Set(records.map((r) => r.text));
  // Who has each current address, to rank the candidates for keeping.
  const owner = (ip: IpAddress) => input.members.find((m) => parseIp(hostOf(m.address))?.text === ip.text);
  const rank = (ip: IpAddress): number => {
    const m = owner(ip);
    if (!m) return 3;
    if (m.name === input.eventMember) return 0;
    return m.status === "left" ? 2 : 1;
  };
  const candidates = input.current
    .filter((ip) => !listed.has(ip.text))
    .filter((ip, i, all) => all.findIndex((x) => x.text === ip.text) === i)
    .sort((a, b) => rank(a) - rank(b) || compareIps(a, b));
  const kept = candidates.slice(0, missing);
  for (const ip of kept) {
    const m = owner(ip);
    const who = m ? `member ${m.name}, ${eligibility(m, input.check) ?? "up"}` : "no member has it";
    warnings.push(
      `keeping ${ip.text} (${who}) so the name keeps at least ${input.minRecords} record(s) (--min-records)`,
    );
  }
  const total = records.length + kept.length;
  if (total < input.minRecords) {
    warnings.push(
      `only ${total} record(s) available, fewer than --min-records ${input.minRecords}: no member is eligible and the server had no others to keep`,
    );
  }
  return { records: [...records, ...kept].sort(compareIps), kept, warnings };
}
