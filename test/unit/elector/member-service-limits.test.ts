/**
 * The limits the member report service holds a member to at the edge (contract/limits.ts),
 * with fake streams as in member-service.test.ts: a registration past a name, address or count
 * limit is refused before anything reaches the tracker, with a status (INVALID_ARGUMENT for a
 * name or address, RESOURCE_EXHAUSTED for a count) and a message naming the limit; a check
 * report with a bad check name is refused; a check detail past CHECK_DETAIL_MAX_BYTES is cut
 * (a warning once per stream), not refused; a refusals report whose checks-refused details
 * would pass the details cap is ignored with a warning.
 */
import * as grpc from "@grpc/grpc-js";
import test from "ava";
import pino from "pino";
import { CHECK_DETAIL_MAX_BYTES } from "../../../src/contract/limits.ts";
import {
  cutCheckDetail,
  type LeaderInfo,
  type MemberReportSink,
  refusalsSizeProblem,
  registerMemberService,
  registrationProblem,
} from "../../../src/elector/member-service.ts";
import { FakeMemberStream } from "./member-stream-fixture.ts";

const node: LeaderInfo = {
  id: "a",
  leader: () => "a",
  addressOf: () => "10.0.0.1:7000",
  onLeaderChange: () => () => {},
};

function setup(joinProblem?: (name: string) => string | null) {
  const tracked: unknown[][] = [];
  const tracker: MemberReportSink = {
    registered: (reg) => void tracked.push(["registered", reg]),
    heard: (name) => void tracked.push(["heard", name]),
    checkReported: (...args) => void tracked.push(["checkReported", ...args]),
    left: (name) => void tracked.push(["left", name]),
  };
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "warn" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const recorded: unknown[] = [];
  let report: ((call: FakeMemberStream) => void) | undefined;
  registerMemberService(
    {
      addService: (_def, impl) => {
        report = impl.Report as unknown as (call: FakeMemberStream) => void;
      },
    },
    {
      node,
      tracker,
      logger,
      extras: {
        keeper: {
          isActive: true,
          grantsFor: () => [],
          report: () => {},
          checksReported: () => {},
          checkReported: () => {},
        },
        clusterChecks: () => ({ version: 0, checks: [] }) as never,
        leaseMs: 3000,
        refusals: {
          reported: (_m, wire) => {
            recorded.push(wire);
            return { kind: "kept" };
          },
          heard: () => {},
          left: () => {},
        },
      },
      ...(joinProblem ? { joinProblem } : {}),
    },
  );
  const open = () => {
    const s = new FakeMemberStream();
    report!(s);
    return s;
  };
  return { tracked, lines, recorded, open };
}

const registration = (extra: object = {}) => ({
  register: { name: "m1", address: "10.1.0.1:7001", services: ["db"], checks: { disk: "passing" }, ...extra },
});

const manyChecks = (n: number) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`c${i}`, "pending"]));
const manyServices = (n: number) => Array.from({ length: n }, (_, i) => `s${i}`);

test("a registration past a limit is refused at the edge with a status and a message naming the limit", (t) => {
  const cases: [object, grpc.status, RegExp][] = [
    [
      { name: "x".repeat(70_000) },
      grpc.status.INVALID_ARGUMENT,
      /^registration refused: "x{80}"\.\.\. \(70000 characters\) is not a valid member name: .*at most 64 characters$/,
    ],
    [{ name: "web 1" }, grpc.status.INVALID_ARGUMENT, /"web 1" is not a valid member name/],
    [
      { address: `${"h".repeat(300)}:7001` },
      grpc.status.INVALID_ARGUMENT,
      /the address is 305 bytes; the limit is 260 bytes \(MEMBER_ADDRESS_MAX_BYTES\)/,
    ],
    [
      { services: manyServices(65) },
      grpc.status.RESOURCE_EXHAUSTED,
      /65 services; a member may run at most 64 \(SERVICES_PER_MEMBER_MAX\)/,
    ],
    [{ services: ["db", "x".repeat(65)] }, grpc.status.INVALID_ARGUMENT, /is not a valid service name/],
    [
      { checks: manyChecks(65) },
      grpc.status.RESOURCE_EXHAUSTED,
      /65 checks; a member may have at most 64 \(CHECKS_PER_MEMBER_MAX\)/,
    ],
    [
      { checks: { ["c".repeat(70_000)]: "passing" } },
      grpc.status.INVALID_ARGUMENT,
      /is not a valid check name/,
    ],
    [
      { checks: { "service:bad name": "passing" } },
      grpc.status.INVALID_ARGUMENT,
      /is not a valid service name/,
    ],
  ];
  const s = setup();
  for (const [extra, code, message] of cases) {
    const m = s.open();
    m.send(registration(extra));
    t.is(m.destroyed?.code, code, JSON.stringify(extra).slice(0, 80));
    t.regex(m.destroyed?.details ?? "", message);
    t.deepEqual(m.written, [], "nothing acknowledged");
  }
  t.deepEqual(s.tracked, [], "nothing reached the tracker");
  // At the limits, everything is accepted.
  const ok = s.open();
  ok.send(
    registration({
      name: "m".repeat(64),
      address: `${"h".repeat(255)}:7001`,
      services: manyServices(64),
      checks: { ...manyChecks(63), "service:s1": "passing" },
    }),
  );
  t.is(ok.destroyed, null);
  t.deepEqual(
    s.tracked.map((c) => c[0]),
    ["registered"],
  );
});

test("registrationProblem accepts a registration within every limit", (t) => {
  t.is(registrationProblem({ name: "m1", address: "10.0.0.1:1", services: [], checks: {} }), null);
  t.is(registrationProblem({ name: "m1" }), null, "older members send no services or checks");
});

test("a check report with a bad check name is refused; a long detail is cut, logged once per stream", (t) => {
  const s = setup();
  const bad = s.open();
  bad.send(registration());
  bad.send({ check: { name: "d".repeat(70_000), state: "failing", detail: "" } });
  t.is(bad.destroyed?.code, grpc.status.INVALID_ARGUMENT);
  t.regex(
    bad.destroyed?.details ?? "",
    /^check report refused: "d{80}"\.\.\. \(70000 characters\) is not a valid check name/,
  );

  const m = s.open();
  m.send(registration());
  const long = "é".repeat(40_000); // 80,000 bytes
  m.send({ check: { name: "disk", state: "failing", detail: long } });
  m.send({ check: { name: "disk", state: "passing", detail: long } });
  t.is(m.destroyed, null, "not refused");
  const reports = s.tracked.filter((c) => c[0] === "checkReported");
  t.is(reports.length, 2);
  for (const r of reports) {
    const detail = r[4] as string;
    t.true(Buffer.byteLength(detail) <= CHECK_DETAIL_MAX_BYTES);
    t.is(detail, "é".repeat(CHECK_DETAIL_MAX_BYTES / 2), "cut on a character boundary");
  }
  const cut = s.lines.filter((l) => String(l.msg).includes("CHECK_DETAIL_MAX_BYTES"));
  t.is(cut.length, 1, "one warning per stream");
  t.regex(String(cut[0]!.msg), /cut to 1 KiB \(CHECK_DETAIL_MAX_BYTES\)/);
});

test("cutCheckDetail keeps short details and never splits a character", (t) => {
  t.is(cutCheckDetail("connection refused"), "connection refused");
  const odd = `a${"€".repeat(1000)}`; // 1 + 3000 bytes: 1024 falls inside a character
  const cut = cutCheckDetail(odd);
  t.true(Buffer.byteLength(cut) <= CHECK_DETAIL_MAX_BYTES);
  t.is(cut, `a${"€".repeat(341)}`);
});

test("a refusals report whose checks-refused details would pass the cap is ignored with a warning", (t) => {
  const big = {
    version: 3,
    checks: Array.from({ length: 64 }, (_, i) => ({
      name: `check-${"n".repeat(50)}-${i}`,
      reason: "r".repeat(300),
    })),
  };
  t.regex(refusalsSizeProblem(big) ?? "", /the limit is 16 KiB \(EVENT_DETAILS_MAX_BYTES\)/);
  const small = { version: 3, checks: [{ name: "whoami", reason: "remote commands are off" }] };
  t.is(refusalsSizeProblem(small), null);

  const s = setup();
  const m = s.open();
  m.send(registration({ refused: big }));
  m.send({ refused: small });
  t.is(m.destroyed, null, "the stream goes on");
  t.deepEqual(s.recorded, [small], "only the report that fits reached the recorder");
  t.is(s.lines.filter((l) => String(l.msg).includes("EVENT_DETAILS_MAX_BYTES")).length, 1);
});

test("a full cluster refuses a new member's registration before proposing it, logged once per name", (t) => {
  const full = "member-joined: the cluster has 20000 members that have not left; the limit is 20000";
  const s = setup((name) => (name === "m1" ? full : null));
  for (let i = 0; i < 3; i++) {
    const m = s.open();
    m.send(registration());
    t.is(m.destroyed?.code, grpc.status.RESOURCE_EXHAUSTED);
    t.is(m.destroyed?.details, `registration refused: ${full} (MEMBERS_MAX)`);
  }
  t.deepEqual(s.tracked, [], "nothing reached the tracker, so nothing was proposed");
  t.is(s.lines.filter((l) => l.msg === full).length, 1, "one log line for three refusals");
  // A member the cap lets in (already known, say) registers as before.
  const known = s.open();
  known.send(registration({ name: "m2" }));
  t.is(known.destroyed, null);
  t.deepEqual(
    s.tracked.map((c) => c[0]),
    ["registered"],
  );
});
