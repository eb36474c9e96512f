/**
 * The kv linearizability checker (test/campaign/linearizability.ts) on hand-made histories whose
 * verdict is known, and two properties: a history executed by a true register, with intervals
 * around each true linearization point, is always accepted; the same history with one get
 * reading a value never written is always rejected, and reported against that get's key.
 */
import assert from "node:assert/strict";
import test from "ava";
import fc from "fast-check";
import { KvHistoryRecorder, type KvOperation, prepareHistory } from "../../campaign/kv-history.ts";
import { checkLinearizability, type LinearizabilityResult } from "../../campaign/linearizability.ts";
import { executePlan, type PlannedOp } from "../../campaign/register-history.ts";

type Outcome = "ok" | "unknown" | "failed";
const put = (
  client: string,
  value: string,
  call: number,
  ret: number,
  outcome: Outcome = "ok",
  key = "k",
): KvOperation => ({
  client,
  key,
  kind: "put",
  value,
  call,
  ret: outcome === "unknown" ? Infinity : ret,
  outcome,
});
const del = (client: string, call: number, ret: number, key = "k"): KvOperation => ({
  client,
  key,
  kind: "delete",
  call,
  ret,
  outcome: "ok",
});
const get = (client: string, result: string | null, call: number, ret: number, key = "k"): KvOperation => ({
  client,
  key,
  kind: "get",
  result,
  call,
  ret,
  outcome: "ok",
});

function verdict(r: LinearizabilityResult): string {
  return r.ok === true ? "ok" : r.ok === false ? `violation on ${r.key}` : `unknown on ${r.key}`;
}

test("a sequential history is linearizable", (t) => {
  const r = checkLinearizability([
    get("a", null, 0, 1),
    put("a", "1", 2, 3),
    get("b", "1", 4, 5),
    put("b", "2", 6, 7),
    get("a", "2", 8, 9),
  ]);
  t.deepEqual(r, { ok: true, keys: 1, ops: 5, dropped: 0 });
});

test("a get overlapping a put may read the old value or the new one", (t) => {
  const before = [put("w", "old", 0, 1), put("w", "new", 2, 10)];
  t.is(verdict(checkLinearizability([...before, get("r", "old", 3, 5)])), "ok");
  t.is(verdict(checkLinearizability([...before, get("r", "new", 3, 5)])), "ok");
  // The get may even be called before the put and still see it, the intervals overlapping.
  t.is(verdict(checkLinearizability([...before, get("r", "new", 1.5, 2.5)])), "ok");
  // Touching intervals overlap: a get returning at the put's call may see the new value.
  t.is(verdict(checkLinearizability([...before, get("r", "new", 1.5, 2)])), "ok");
});

test("a stale read after a completed put is not linearizable", (t) => {
  const r = checkLinearizability([put("w", "old", 0, 1), put("w", "new", 2, 3), get("r", "old", 4, 5)]);
  if (r.ok !== false) return t.fail(verdict(r));
  t.is(r.key, "k");
  t.deepEqual(
    r.evidence.prefix.map((op) => op.kind),
    ["put", "put"],
  );
  t.is(r.evidence.stateAfterPrefix, "new");
  t.deepEqual(
    r.evidence.stuck.map((op) => (op.kind === "get" ? op.result : op.kind)),
    ["old"],
  );
  t.is(r.evidence.minimal.length, 3, "each of the three is needed for the violation");
  t.regex(r.evidence.summary, /r get k -> "old" \[4, 5\]/);
});

test("a read of a value never written is not linearizable", (t) => {
  const r = checkLinearizability([put("w", "1", 0, 1), get("r", "2", 0, 5), put("w", "3", 2, 3)]);
  if (r.ok !== false) return t.fail(verdict(r));
  t.deepEqual(
    r.evidence.minimal.map((op) => op.kind),
    ["get"],
    "the get alone is the evidence",
  );
});

test("a put of unknown outcome may take effect long after its call", (t) => {
  const r = checkLinearizability([
    put("w", "1", 0, 1),
    put("w", "2", 2, 0, "unknown"),
    get("r", "1", 10, 11),
    get("r", "1", 20, 21),
    get("r", "2", 1000, 1001),
    get("s", "2", 2000, 2001),
  ]);
  t.is(verdict(r), "ok");
});

test("a put of unknown outcome that never shows is linearizable, and one cannot be undone", (t) => {
  const base = [put("w", "1", 0, 1), put("w", "2", 2, 0, "unknown")];
  t.is(verdict(checkLinearizability([...base, get("r", "1", 10, 11), get("r", "1", 5000, 5001)])), "ok");
  // Once seen, its effect stays: it cannot take effect twice with a write between.
  t.is(
    verdict(checkLinearizability([...base, get("r", "2", 10, 11), get("r", "1", 20, 21)])),
    "violation on k",
  );
});

test("failed operations and gets of unknown outcome are dropped", (t) => {
  const lostGet: KvOperation = {
    client: "r",
    key: "k",
    kind: "get",
    call: 0,
    ret: Infinity,
    outcome: "unknown",
  };
  const failedGet: KvOperation = { client: "r", key: "k", kind: "get", call: 0, ret: 9, outcome: "failed" };
  const r = checkLinearizability([
    put("w", "1", 0, 1),
    lostGet,
    failedGet,
    put("w", "2", 2, 3, "failed"),
    get("r", "1", 4, 5),
  ]);
  t.deepEqual(r, { ok: true, keys: 1, ops: 2, dropped: 3 });
  // A failed put did not take effect: reading its value is reading a value never written.
  t.is(verdict(checkLinearizability([put("w", "2", 2, 3, "failed"), get("r", "2", 4, 5)])), "violation on k");
});

test("two gets that see the writes in orders no write order allows are not linearizable", (t) => {
  const writes = [put("w1", "a", 0, 10), put("w2", "b", 0, 10)];
  const r1 = [get("r1", "a", 1, 2), get("r1", "b", 3, 4)];
  t.is(verdict(checkLinearizability([...writes, ...r1])), "ok");
  const r2 = [get("r2", "b", 1, 2), get("r2", "a", 3, 4)];
  t.is(verdict(checkLinearizability([...writes, ...r2])), "ok");
  t.is(verdict(checkLinearizability([...writes, ...r1, ...r2])), "violation on k");
  // And after both writes completed, reads may not flip between them.
  t.is(
    verdict(checkLinearizability([...writes, get("r", "a", 11, 12), get("r", "b", 13, 14)])),
    "violation on k",
  );
});

test("a delete makes the key absent: a get after it reads null, not the old value", (t) => {
  const base = [put("w", "1", 0, 1), del("w", 2, 3)];
  t.is(verdict(checkLinearizability([...base, get("r", null, 4, 5)])), "ok");
  t.is(verdict(checkLinearizability([...base, get("r", "1", 4, 5)])), "violation on k");
  t.is(
    verdict(checkLinearizability([get("r", null, 0, 1), ...base, put("w", "2", 6, 7), get("r", "2", 8, 9)])),
    "ok",
  );
});

test("keys are checked independently and a violation is reported against its key", (t) => {
  const a = [put("w", "1", 0, 1, "ok", "a"), get("r", "1", 2, 3, "a")];
  const b = [put("w", "1", 0, 1, "ok", "b"), put("w", "2", 2, 3, "ok", "b"), get("r", "1", 4, 5, "b")];
  const r = checkLinearizability([...a, ...b]);
  if (r.ok !== false) return t.fail(verdict(r));
  t.is(r.key, "b");
  t.true(r.evidence.ops.every((op) => op.key === "b"));
  // The same reads on another key would be fine: a's value "1" does not leak into b.
  t.is(verdict(checkLinearizability([...a, put("w", "2", 0, 1, "ok", "b"), get("r", "2", 2, 3, "b")])), "ok");
});

test("a search past its step budget answers unknown instead of hanging", (t) => {
  // Many concurrent puts and a get whose value fits nowhere: a full search must try them all.
  const ops: KvOperation[] = [];
  for (let i = 0; i < 10; i++) ops.push(put(`w${i}`, `v${i}`, 0, 100));
  ops.push(get("r", "v0", 101, 102), get("r", "v1", 103, 104));
  const r = checkLinearizability(ops, { maxSteps: 1000 });
  t.is(r.ok, "unknown");
  if (r.ok === "unknown") t.regex(r.reason, /budget of 1000 steps/);
  // With the default budget the cache makes the same search quick.
  t.is(verdict(checkLinearizability(ops)), "violation on k");
});

test("a violation on one key wins over another key whose search ran out of budget", (t) => {
  const ops: KvOperation[] = [];
  for (let i = 0; i < 10; i++) ops.push(put(`w${i}`, `v${i}`, 0, 100, "ok", "a"));
  ops.push(get("r", "v0", 101, 102, "a"), get("r", "v1", 103, 104, "a"));
  ops.push(put("w", "x", 0, 1, "ok", "b"), get("r", "y", 2, 3, "b"));
  t.is(verdict(checkLinearizability(ops, { maxSteps: 1000 })), "violation on b");
});

test("prepareHistory refuses an ok operation returning before its call, and gives unknown writes ret ∞", (t) => {
  t.throws(() => prepareHistory([get("r", null, 5, 4)]), { message: /ret \(4\)/ });
  const p = prepareHistory([{ client: "w", key: "k", kind: "delete", call: 1, ret: 3, outcome: "unknown" }]);
  t.is(p.ops[0]?.ret, Infinity);
});

test("the recorder brackets each operation with the clock and leaves unfinished ones unknown", (t) => {
  let now = 0;
  const rec = new KvHistoryRecorder({ now: () => now++ });
  const p = rec.invoke({ client: "a", key: "k", kind: "put", value: "1" });
  const g = rec.invoke({ client: "b", key: "k", kind: "get" });
  p({ outcome: "ok" });
  rec.invoke({ client: "c", key: "k", kind: "delete" });
  g({ outcome: "ok", result: "1" });
  t.throws(() => g({ outcome: "ok" }), { message: /twice/ });
  t.deepEqual(rec.history(), [
    { client: "a", key: "k", kind: "put", value: "1", call: 0, ret: 2, outcome: "ok" },
    { client: "b", key: "k", kind: "get", call: 1, ret: 4, outcome: "ok", result: "1" },
    { client: "c", key: "k", kind: "delete", call: 3, ret: Infinity, outcome: "unknown" },
  ]);
  t.is(verdict(checkLinearizability(rec.history())), "ok");
});

// A plan: up to 40 operations on up to 3 keys, values from a small pool (so values repeat),
// intervals up to 8 points wide around each point (spacing 10), some outcomes unknown or failed.
const planArb: fc.Arbitrary<PlannedOp[]> = fc.array(
  fc.record({
    client: fc.constantFrom("c0", "c1", "c2", "c3"),
    key: fc.constantFrom("a", "b", "c"),
    kind: fc.constantFrom("get", "get", "put", "put", "delete"),
    value: fc.constantFrom("x", "y", "z", "w"),
    lead: fc.nat(80),
    lag: fc.nat(80),
    fate: fc.constantFrom("ok", "ok", "ok", "ok", "ok", "ok", "unknown-applied", "unknown-lost", "failed"),
  }),
  { minLength: 1, maxLength: 40 },
);

test("property: a history executed by a true register is always linearizable", (t) => {
  fc.assert(
    fc.property(planArb, (plan) => {
      const r = checkLinearizability(executePlan(plan));
      // assert (not t.*) so that a failure throws and fast-check shrinks it.
      assert.equal(r.ok, true, r.ok === false ? r.evidence.summary : JSON.stringify(r));
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test("property: the same history with one get reading a value never written is always rejected", (t) => {
  fc.assert(
    fc.property(planArb, fc.nat(), (plan, pick) => {
      const history = executePlan(plan);
      const gets = history.flatMap((op, i) => (op.kind === "get" && op.outcome === "ok" ? [i] : []));
      fc.pre(gets.length > 0);
      const at = gets[pick % gets.length] ?? 0;
      const victim = history[at];
      assert(victim?.kind === "get" && victim.outcome === "ok");
      history[at] = { ...victim, result: "never-written" };
      const r = checkLinearizability(history);
      assert.equal(r.ok, false, JSON.stringify(r));
      assert(r.ok === false);
      assert.equal(r.key, victim.key);
      assert(r.evidence.minimal.some((op) => op.kind === "get" && op.result === "never-written"));
    }),
    { numRuns: 300 },
  );
  t.pass();
});

/**
 * The definition, by brute force: some order of a key's ops respects real time (an op returning
 * before another's call comes first), lets every get read the latest write before it, and holds
 * every op with a finite return (a write of unknown outcome may be left out: it never happened).
 */
function linearizableByBruteForce(history: readonly KvOperation[]): boolean {
  const { ops } = prepareHistory(history);
  const keys = new Set(ops.map((op) => op.key));
  return [...keys].every((key) => {
    const mine = ops.filter((op) => op.key === key);
    const search = (left: typeof mine, state: string | null): boolean => {
      if (left.every((op) => op.ret === Infinity)) return true;
      return left.some((op, i) => {
        if (left.some((other) => other.ret < op.call)) return false;
        if (op.kind === "get" && op.result !== state) return false;
        const after = op.kind === "put" ? op.value : op.kind === "delete" ? null : state;
        return search(
          left.filter((_, j) => j !== i),
          after,
        );
      });
    };
    return search(mine, null);
  });
}

test("property: on small arbitrary histories the checker agrees with the brute-force definition", (t) => {
  const opArb = fc.record({
    key: fc.constantFrom("a", "b"),
    kind: fc.constantFrom("get", "put", "delete"),
    value: fc.constantFrom("x", "y"),
    result: fc.constantFrom(null, "x", "y"),
    call: fc.nat(20),
    width: fc.nat(10),
    outcome: fc.constantFrom("ok", "ok", "ok", "unknown", "failed"),
  });
  let rejected = 0;
  fc.assert(
    fc.property(fc.array(opArb, { minLength: 1, maxLength: 7 }), (raw) => {
      const history = raw.map((o, i): KvOperation => {
        const base = { client: `c${i}`, key: o.key, call: o.call };
        const ret = o.outcome === "unknown" ? Infinity : o.call + o.width;
        if (o.kind === "get")
          return o.outcome === "ok"
            ? { ...base, kind: "get", outcome: "ok", result: o.result, ret }
            : { ...base, kind: "get", outcome: o.outcome, ret };
        if (o.kind === "put") return { ...base, kind: "put", value: o.value, outcome: o.outcome, ret };
        return { ...base, kind: "delete", outcome: o.outcome, ret };
      });
      const expected = linearizableByBruteForce(history);
      const r = checkLinearizability(history);
      if (!expected) rejected += 1;
      assert.equal(r.ok, expected, JSON.stringify(history));
    }),
    { numRuns: 500 },
  );
  t.true(rejected > 50, `both verdicts are exercised (${rejected} of 500 rejected)`);
});
