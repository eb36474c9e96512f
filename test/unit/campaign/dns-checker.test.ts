/**
 * The campaign's DNS checker (test/campaign/check-dns.ts) on hand-made dig samples (second s is
 * s × 1e9 ns): a member dropped within the bound, and records that settle after the heal, pass;
 * a member listed long into a failure (application 503, or agent killed) is found, as are
 * records that settle too late or never, and an address that is no member's; network faults
 * are not failures.
 */
import test from "ava";
import type { FaultWindow } from "../../campaign/check-member-down.ts";
import { badSpans, checkDns, type DnsInput, type DnsSample } from "../../campaign/check-dns.ts";
import type { AppTransition } from "../../campaign/check-server.ts";

const S = 1_000_000_000n;
const MEMBERS = ["m1", "m2"];
const ADDR = { m1: "10.0.0.1", m2: "10.0.0.2" };
const both = ["10.0.0.1", "10.0.0.2"];
const only2 = ["10.0.0.2"];

/** A sample every 0.5 s from `from` to `to` seconds, listing `addrs(t)`. */
function samples(from: number, to: number, addrs: (t: number) => string[] | null): DnsSample[] {
  const out: DnsSample[] = [];
  for (let t = from; t <= to; t += 0.5) {
    const at = BigInt(Math.round(t * 1000)) * 1_000_000n;
    out.push({ sentAt: at - 10_000_000n, at, addrs: addrs(t) });
  }
  return out;
}
const fail = (member: string, from: number, to: number): AppTransition[] => [
  { member, failing: true, at: BigInt(from) * S },
  { member, failing: false, at: BigInt(to) * S },
];
const input = (o: Partial<DnsInput>): DnsInput => ({
  members: MEMBERS,
  addressOf: ADDR,
  samples: [],
  transitions: [],
  faults: [],
  healedAt: 30n * S,
  boundMs: 5000,
  settleMs: 10_000,
  ...o,
});

test("a failing member dropped within the bound and back after the heal: no violation, latencies measured", (t) => {
  const r = checkDns(
    input({
      transitions: fail("m1", 10, 20),
      samples: samples(1, 40, (s) => (s >= 13 && s < 22 ? only2 : both)),
    }),
  );
  t.deepEqual(r.verdict.violations, []);
  t.true(r.verdict.count > 70);
  t.deepEqual(r.removalMs, [3000]);
  t.is(r.convergeMs, 500); // the first query sent after the heal
});

test("a member listed longer than the bound into its failure is a violation", (t) => {
  const r = checkDns(
    input({
      transitions: fail("m1", 10, 20),
      samples: samples(1, 40, (s) => (s >= 17 && s < 22 ? only2 : both)),
    }),
  );
  t.true(r.verdict.violations.length > 0);
  t.regex(
    r.verdict.violations[0]!.what,
    /^DNS listed m1 while its server had been bad for 5\d{3}(\.\d+)? ms \(bound 5000 ms\)$/,
  );
  t.deepEqual(r.removalMs, [7000]);
});

test("a killed agent counts as failing; a listing once it is back is fine", (t) => {
  const kill: FaultWindow = { node: "m2", role: "member", kind: "kill", from: 5n * S, to: 15n * S };
  const late = checkDns(
    input({ faults: [kill], samples: samples(1, 40, (s) => (s >= 12 && s < 16 ? ["10.0.0.1"] : both)) }),
  );
  t.true(late.verdict.violations.some((v) => v.what.includes("listed m2")));
  const quick = checkDns(
    input({ faults: [kill], samples: samples(1, 40, (s) => (s >= 7 && s < 16 ? ["10.0.0.1"] : both)) }),
  );
  t.deepEqual(quick.verdict.violations, []);
});

test("an elector's fault and network faults do not make a member bad", (t) => {
  const e: FaultWindow = { node: "e1", role: "elector", kind: "pause", from: 5n * S, to: 25n * S };
  t.deepEqual(badSpans("m1", [], [e]), []);
  const r = checkDns(input({ faults: [e], samples: samples(1, 40, () => both) }));
  t.deepEqual(r.verdict.violations, []);
});

test("a failure that straddles the sample's query is judged from the query's send time", (t) => {
  // Bad from 10 s; the query of 14.99 s was sent 4.98 s in: under the 5 s bound.
  const s: DnsSample = { sentAt: 14_980_000_000n, at: 15_100_000_000n, addrs: both };
  const r = checkDns(
    input({ transitions: fail("m1", 10, 20), samples: [s, ...samples(31, 35, () => both)] }),
  );
  t.deepEqual(r.verdict.violations, []);
});

test("after the heal: settling late, never settling, or no answers at all are violations", (t) => {
  const late = checkDns(
    input({
      transitions: fail("m1", 10, 29),
      samples: samples(1, 60, (s) => (s >= 12 && s < 45 ? only2 : both)),
    }),
  );
  t.is(late.convergeMs, 15_000);
  t.true(late.verdict.violations.some((v) => /took 15000 ms/.test(v.what)));
  const never = checkDns(
    input({ transitions: fail("m1", 10, 29), samples: samples(1, 60, (s) => (s >= 12 ? only2 : both)) }),
  );
  t.is(never.convergeMs, null);
  t.true(never.verdict.violations.some((v) => /never equalled/.test(v.what)));
  const none = checkDns(input({ samples: samples(1, 20, () => both) }));
  t.true(none.verdict.violations.some((v) => /no DNS answer after the heal/.test(v.what)));
});

test("dig failures are not judged but noted; an unknown address is a violation", (t) => {
  const r = checkDns(
    input({ samples: samples(1, 40, (s) => (s === 5 ? null : s === 6 ? [...both, "10.9.9.9"] : both)) }),
  );
  t.is(r.verdict.violations.length, 1);
  t.regex(r.verdict.violations[0]!.what, /10\.9\.9\.9, which is no member's address/);
  t.deepEqual(r.verdict.notes, ["1 of 79 dig queries got no answer"]);
});

test("bad stretches merge an application failure with an overlapping kill", (t) => {
  const kill: FaultWindow = { node: "m1", role: "member", kind: "kill", from: 15n * S, to: 25n * S };
  t.deepEqual(badSpans("m1", fail("m1", 10, 20), [kill]), [{ from: 10n * S, to: 25n * S }]);
  t.deepEqual(badSpans("m1", [{ member: "m1", failing: true, at: 3n * S }], []), [
    { from: 3n * S, to: null },
  ]);
});
