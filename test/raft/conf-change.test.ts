/**
 * conf-change.ts: encoding of membership changes, their validation and their effect.
 */
import test from "ava";
import fc from "fast-check";
import { assertConfChange } from "../../raft/conf-change.ts";
import {
  applyConfChange,
  type ConfChange,
  ConfChangeRefusedError,
  type ConfState,
  confChangeProblem,
  decodeConfChange,
  disjointMajoritiesPossible,
  encodeConfChange,
} from "../../raft/index.ts";
import { enc } from "./helpers.ts";

const CONF: ConfState = { voters: ["a", "b", "c"], learners: ["l"] };

test("encodeConfChange/decodeConfChange: round trip of every kind, with and without context", (t) => {
  const changes: ConfChange[] = [
    { type: "add-learner", node: "d" },
    { type: "add-voter", node: "e", context: "10.0.0.5:7000" },
    { type: "promote", node: "l" },
    { type: "remove", node: "a", context: "" },
  ];
  for (const cc of changes) t.deepEqual(decodeConfChange(encodeConfChange(cc)), cc);
});

test("encodeConfChange/decodeConfChange: property: round trip", (t) => {
  const arb = fc.record(
    {
      type: fc.constantFrom("add-learner", "add-voter", "promote", "remove"),
      node: fc.string({ minLength: 1 }),
      context: fc.string(),
    },
    { requiredKeys: ["type", "node"] },
  ) as fc.Arbitrary<ConfChange>;
  t.notThrows(() =>
    fc.assert(
      fc.property(arb, (cc) => JSON.stringify(decodeConfChange(encodeConfChange(cc))) === JSON.stringify(cc)),
    ),
  );
});

test("decodeConfChange: errors name the problem", (t) => {
  const cases: [string, RegExp][] = [
    ["null", /not an object/],
    ['"add-voter"', /not an object/],
    ["42", /not an object/],
    ['{"type":"demote","node":"a"}', /unknown type demote/],
    ['{"node":"a"}', /unknown type undefined/],
    ['{"type":"remove"}', /node must be a non-empty string/],
    ['{"type":"remove","node":""}', /node must be a non-empty string/],
    ['{"type":"remove","node":7}', /node must be a non-empty string/],
    ['{"type":"remove","node":"a","context":5}', /context must be a string/],
  ];
  for (const [json, problem] of cases) {
    const err = t.throws(() => decodeConfChange(enc(json)), undefined, json);
    t.regex(err?.message ?? "", problem, json);
    t.regex(err?.message ?? "", /conf change/, json);
  }
});

test("decodeConfChange: bytes that are not JSON are refused", (t) => {
  t.throws(() => decodeConfChange(enc("not json")));
  t.throws(() => decodeConfChange(new Uint8Array()));
});

test("confChangeProblem: the changes that apply", (t) => {
  t.is(confChangeProblem(CONF, { type: "add-learner", node: "d" }), null);
  t.is(confChangeProblem(CONF, { type: "add-voter", node: "d" }), null);
  t.is(confChangeProblem(CONF, { type: "promote", node: "l" }), null);
  t.is(confChangeProblem(CONF, { type: "remove", node: "a" }), null);
  t.is(confChangeProblem(CONF, { type: "remove", node: "l" }), null, "removing a learner");
  t.is(confChangeProblem({ voters: ["a"], learners: ["l"] }, { type: "remove", node: "l" }), null);
});

test("confChangeProblem: the changes that do not apply, with the reason", (t) => {
  t.is(confChangeProblem(CONF, { type: "add-learner", node: "a" }), "a is already a member");
  t.is(confChangeProblem(CONF, { type: "add-learner", node: "l" }), "l is already a member");
  t.is(confChangeProblem(CONF, { type: "add-voter", node: "b" }), "b is already a member");
  t.is(confChangeProblem(CONF, { type: "add-voter", node: "l" }), "l is already a member");
  t.is(confChangeProblem(CONF, { type: "promote", node: "a" }), "a is not a learner");
  t.is(confChangeProblem(CONF, { type: "promote", node: "zz" }), "zz is not a learner");
  t.is(confChangeProblem(CONF, { type: "remove", node: "zz" }), "zz is not a member");
  t.is(
    confChangeProblem({ voters: ["a"], learners: [] }, { type: "remove", node: "a" }),
    "a is the last voter",
  );
});

test("assertConfChange: throws ConfChangeRefusedError carrying the reason", (t) => {
  const err = t.throws(() => assertConfChange(CONF, { type: "promote", node: "a" }), {
    instanceOf: ConfChangeRefusedError,
  });
  t.is(err?.reason, "a is not a learner");
  t.regex(err?.message ?? "", /membership change refused: a is not a learner/);
  t.notThrows(() => assertConfChange(CONF, { type: "promote", node: "l" }));
});

test("applyConfChange: each kind of change", (t) => {
  t.deepEqual(applyConfChange(CONF, { type: "add-learner", node: "d" }), {
    voters: ["a", "b", "c"],
    learners: ["d", "l"],
  });
  t.deepEqual(applyConfChange(CONF, { type: "add-voter", node: "d" }), {
    voters: ["a", "b", "c", "d"],
    learners: ["l"],
  });
  t.deepEqual(applyConfChange(CONF, { type: "promote", node: "l" }), {
    voters: ["a", "b", "c", "l"],
    learners: [],
  });
  t.deepEqual(applyConfChange(CONF, { type: "remove", node: "b" }), { voters: ["a", "c"], learners: ["l"] });
  t.deepEqual(applyConfChange(CONF, { type: "remove", node: "l" }), {
    voters: ["a", "b", "c"],
    learners: [],
  });
});

test("applyConfChange: re-applying a change that is already in effect changes nothing", (t) => {
  t.deepEqual(applyConfChange(CONF, { type: "add-learner", node: "a" }), CONF, "a voter is not demoted");
  t.deepEqual(applyConfChange(CONF, { type: "add-learner", node: "l" }), CONF);
  t.deepEqual(applyConfChange(CONF, { type: "add-voter", node: "a" }), CONF);
  t.deepEqual(applyConfChange(CONF, { type: "remove", node: "zz" }), CONF);
});

test("applyConfChange: property: every allowed change keeps the sets sorted and disjoint, and never allows disjoint majorities", (t) => {
  const ids = ["a", "b", "c", "d", "e", "f"];
  const arbConf = fc
    .tuple(fc.subarray(ids, { minLength: 1 }), fc.subarray(ids))
    .map(([v, l]) => ({ voters: [...v].sort(), learners: l.filter((x) => !v.includes(x)).sort() }));
  const arbCc = fc.record({
    type: fc.constantFrom("add-learner", "add-voter", "promote", "remove"),
    node: fc.constantFrom(...ids),
  }) as fc.Arbitrary<ConfChange>;
  t.notThrows(() =>
    fc.assert(
      fc.property(arbConf, arbCc, (conf, cc) => {
        if (confChangeProblem(conf, cc) !== null) return true;
        const next = applyConfChange(conf, cc);
        const sorted = (xs: readonly string[]) => xs.every((x, i) => i === 0 || xs[i - 1]! < x);
        return (
          sorted(next.voters) &&
          sorted(next.learners) &&
          next.voters.every((v) => !next.learners.includes(v)) &&
          next.voters.length > 0 &&
          !disjointMajoritiesPossible(conf.voters, next.voters)
        );
      }),
    ),
  );
});
