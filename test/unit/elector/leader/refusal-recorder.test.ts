/**
 * The leader's recorder of what members refuse of the cluster-wide checks
 * (src/elector/leader/refusal-recorder.ts), against a hand-held committed state: a report
 * about the set in force that differs from the committed refusals is proposed once (never a
 * second proposal while one is in flight, and nothing while the committed state already says
 * it), a report about another version or from an older member (none) proposes nothing, and
 * nothing is proposed before this node's leadership is active. Malformed reports are refused.
 */
import test from "ava";
import pino from "pino";
import type { CheckRefusals, RefusedChecks } from "../../../../src/contract/check-refusals.ts";
import { CLUSTER_CHECKS_MAX } from "../../../../src/contract/limits.ts";
import { type RefusalProposal, RefusalRecorder } from "../../../../src/elector/leader/refusal-recorder.ts";

const REASON =
  "a command check from checks apply; this member's config does not set allow_remote_commands: true";

function setup() {
  let version = 5;
  const committed = new Map<string, RefusedChecks>();
  const proposed: RefusalProposal[] = [];
  const held: (() => void)[] = [];
  const recorder = new RefusalRecorder({
    now: () => 0,
    committed: (member): CheckRefusals => ({ version, refused: committed.get(member) ?? {} }),
    propose: (e) => {
      proposed.push(e);
      // Held until the test commits it, as a slow Raft round would be.
      return new Promise<void>((resolve) =>
        held.push(() => {
          committed.set(e.member, e.details.refused as RefusedChecks);
          resolve();
        }),
      );
    },
    logger: pino({ level: "silent" }),
  });
  const commitAll = async () => {
    for (const c of held.splice(0)) c();
    await Promise.resolve();
  };
  return { recorder, proposed, commitAll, setVersion: (v: number) => (version = v) };
}

const wire = (version: number, names: string[]) => ({
  version,
  checks: names.map((name) => ({ name, reason: REASON })),
});

test("a differing report about the set in force is proposed once; a repeat or a matching state proposes nothing", async (t) => {
  const { recorder, proposed, commitAll } = setup();
  t.deepEqual(recorder.reported("m1", wire(5, ["whoami"])), { kind: "kept" });
  t.is(proposed.length, 0, "not leading yet: kept, not proposed");
  recorder.becameLeader(3);
  recorder.heard("m1");
  t.deepEqual(proposed, [
    { type: "checks-refused", member: "m1", details: { version: 5, refused: { whoami: REASON } } },
  ]);
  recorder.heard("m1");
  recorder.reported("m1", wire(5, ["whoami"]));
  t.is(proposed.length, 1, "one proposal in flight at a time");
  await commitAll();
  recorder.heard("m1");
  t.is(proposed.length, 1, "committed state says it already");

  // The member now runs everything (its config changed and it restarted): an empty list.
  recorder.reported("m1", wire(5, []));
  t.deepEqual(proposed.at(-1), {
    type: "checks-refused",
    member: "m1",
    details: { version: 5, refused: {} },
  });
});

test("a report about another version, or none at all, proposes nothing; losing leadership forgets reports", async (t) => {
  const { recorder, proposed, setVersion } = setup();
  recorder.becameLeader(2);
  recorder.reported("m1", wire(4, ["whoami"]));
  recorder.reported("m2", null);
  recorder.reported("m3", undefined);
  recorder.heard("m1");
  t.is(proposed.length, 0);
  // The member is sent version 5 and reports again: only then is it proposed.
  recorder.reported("m1", wire(5, ["whoami"]));
  t.is(proposed.length, 1);

  recorder.lostLeadership();
  recorder.becameLeader(3);
  setVersion(6);
  recorder.heard("m1");
  t.is(proposed.length, 1, "a new tenure starts with no reports");
});

test("a malformed report is refused with a reason and kept out", (t) => {
  const { recorder, proposed } = setup();
  recorder.becameLeader(2);
  for (const bad of [
    "text",
    { version: -1, checks: [] },
    { version: 5, checks: [{ name: "bad name!", reason: REASON }] },
    { version: 5, checks: [{ name: "whoami", reason: 3 }] },
    {
      version: 5,
      checks: [
        { name: "whoami", reason: REASON },
        { name: "whoami", reason: REASON },
      ],
    },
    {
      version: 5,
      checks: Array.from({ length: CLUSTER_CHECKS_MAX + 1 }, (_, i) => ({ name: `c${i}`, reason: REASON })),
    },
  ]) {
    const outcome = recorder.reported("m1", bad);
    t.is(outcome.kind, "bad", JSON.stringify(bad).slice(0, 80));
  }
  t.is(proposed.length, 0);
});
