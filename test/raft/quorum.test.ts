/**
 * quorum.ts: majority, committedIndex, voteResult, disjointMajoritiesPossible.
 */
import test from "ava";
import fc from "fast-check";
import { committedIndex, disjointMajoritiesPossible, majority, voteResult } from "../../raft/index.ts";

test("majority: more than half", (t) => {
  t.deepEqual([1, 2, 3, 4, 5, 6, 7].map(majority), [1, 2, 2, 3, 3, 4, 4]);
});

test("committedIndex: the highest index a majority has matched", (t) => {
  const match = (m: Record<string, number>) => (id: string) => m[id] ?? 0;
  t.is(committedIndex(["a"], match({ a: 7 })), 7);
  t.is(committedIndex(["a", "b", "c"], match({ a: 9, b: 5, c: 2 })), 5);
  t.is(committedIndex(["a", "b", "c", "d"], match({ a: 9, b: 5, c: 2, d: 1 })), 2, "3 of 4 needed");
  t.is(
    committedIndex(["a", "b", "c", "d", "e"], match({ a: 9, b: 9, c: 1 })),
    1,
    "missing voters count as 0",
  );
  t.is(committedIndex(["a", "b", "c"], match({ a: 4, b: 4, c: 4 })), 4);
  t.is(committedIndex([], match({})), Number.POSITIVE_INFINITY);
});

test("committedIndex: property: a majority has matched it, and no higher index is matched by a majority", (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(fc.array(fc.nat(50), { minLength: 1, maxLength: 9 }), (matches) => {
        const voters = matches.map((_, i) => `n${i}`);
        const ci = committedIndex(voters, (id) => matches[Number(id.slice(1))]!);
        const atLeast = (n: number) => matches.filter((m) => m >= n).length;
        return atLeast(ci) >= majority(voters.length) && atLeast(ci + 1) < majority(voters.length);
      }),
    ),
  );
});

test("voteResult: won with a majority of yes, lost once a majority is out of reach, pending otherwise", (t) => {
  const v = (o: Record<string, boolean>) => new Map(Object.entries(o));
  const three = ["a", "b", "c"];
  t.is(voteResult(three, v({})), "pending");
  t.is(voteResult(three, v({ a: true })), "pending");
  t.is(voteResult(three, v({ a: true, b: true })), "won");
  t.is(voteResult(three, v({ a: true, b: false })), "pending");
  t.is(voteResult(three, v({ a: false, b: false })), "lost");
  t.is(voteResult(three, v({ x: true, y: true })), "pending", "votes of non-voters do not count");
  const four = ["a", "b", "c", "d"];
  t.is(voteResult(four, v({ a: true, b: true })), "pending", "2 of 4 is not a majority");
  t.is(voteResult(four, v({ a: false, b: false })), "lost", "2 no of 4: a majority of 3 is out of reach");
  t.is(voteResult(four, v({ a: true, b: true, c: true })), "won");
  t.is(voteResult([], v({})), "won");
});

test("voteResult: property: never both winnable and lost; won iff yes >= majority", (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.boolean(), { nil: undefined }), { minLength: 1, maxLength: 9 }),
        (answers) => {
          const voters = answers.map((_, i) => `n${i}`);
          const votes = new Map<string, boolean>();
          answers.forEach((a, i) => {
            if (a !== undefined) votes.set(`n${i}`, a);
          });
          const yes = answers.filter((a) => a === true).length;
          const no = answers.filter((a) => a === false).length;
          const r = voteResult(voters, votes);
          const need = majority(voters.length);
          if (yes >= need) return r === "won";
          if (voters.length - no < need) return r === "lost";
          return r === "pending";
        },
      ),
    ),
  );
});

/** Brute force: is there a majority of `a` and a majority of `b` with no member in common? */
function bruteDisjoint(a: readonly string[], b: readonly string[]): boolean {
  if (a.length === 0 || b.length === 0) return false;
  const subsets = (xs: readonly string[]) => {
    const out: Set<string>[] = [];
    for (let mask = 0; mask < 1 << xs.length; mask++) {
      const s = new Set(xs.filter((_, i) => mask & (1 << i)));
      out.push(s);
    }
    return out;
  };
  const ma = subsets(a).filter((s) => s.size >= majority(a.length));
  const mb = subsets(b).filter((s) => s.size >= majority(b.length));
  return ma.some((x) => mb.some((y) => [...x].every((id) => !y.has(id))));
}

test("disjointMajoritiesPossible: examples", (t) => {
  t.false(disjointMajoritiesPossible(["a", "b", "c"], ["a", "b", "c"]));
  t.false(disjointMajoritiesPossible(["a", "b", "c"], ["a", "b", "c", "d"]), "adding one voter is safe");
  t.false(disjointMajoritiesPossible(["a", "b", "c"], ["a", "b"]), "removing one voter is safe");
  t.true(
    disjointMajoritiesPossible(["a", "b", "c"], ["a", "b", "c", "d", "e"]),
    "adding two: {a,b} and {c,d,e}",
  );
  t.true(
    disjointMajoritiesPossible(["a", "b", "c"], ["a", "b", "d"]),
    "replacing a voter in one step: {a,c} and {b,d}",
  );
  t.true(disjointMajoritiesPossible(["a", "b"], ["c", "d"]));
  t.false(disjointMajoritiesPossible([], ["a"]));
  t.false(disjointMajoritiesPossible(["a"], []));
});

const ids = ["a", "b", "c", "d", "e", "f", "g", "h"];
const voterSet = fc.subarray(ids, { minLength: 1, maxLength: 7 });

test("disjointMajoritiesPossible: property: sets differing by one member never allow disjoint majorities", (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(voterSet, fc.constantFrom(...ids), (a, x) => {
        const b = a.includes(x) ? a.filter((y) => y !== x) : [...a, x];
        if (b.length === 0) return true;
        return !disjointMajoritiesPossible(a, b) && !disjointMajoritiesPossible(b, a);
      }),
    ),
  );
});

test("disjointMajoritiesPossible: property: sets differing by two members can allow disjoint majorities", (t) => {
  // From an odd-sized set, adding two voters, or replacing one (one out, one in), always can.
  fc.assert(
    fc.property(voterSet, (a) => {
      const outside = ids.filter((x) => !a.includes(x));
      if (a.length % 2 === 0 || outside.length < 2) return true;
      const [x, y] = outside as [string, string];
      const replaced = [...a.slice(1), x];
      return disjointMajoritiesPossible(a, [...a, x, y]) && disjointMajoritiesPossible(a, replaced);
    }),
  );
  t.true(disjointMajoritiesPossible(["a"], ["a", "b", "c"]));
  // from an even-sized set, adding two is still safe (2 of {a,b} and 3 of {a,b,c,d} overlap)
  t.false(disjointMajoritiesPossible(["a", "b"], ["a", "b", "c", "d"]));
});

test("disjointMajoritiesPossible: property: agrees with a brute-force search", (t) => {
  t.notThrows(() =>
    fc.assert(
      fc.property(fc.subarray(ids.slice(0, 6)), fc.subarray(ids.slice(0, 6)), (a, b) => {
        return disjointMajoritiesPossible(a, b) === bruteDisjoint(a, b);
      }),
    ),
  );
});
