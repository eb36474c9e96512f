/**
 * The campaign's kv checker wrapper (test/campaign/check-kv.ts): a linearizable history counts
 * its operations; a stale read is a violation naming its key.
 */
import test from "ava";
import { checkKv } from "../../campaign/check-kv.ts";
import type { KvOperation } from "../../campaign/kv-history.ts";

const put = (client: string, value: string, call: number, ret: number): KvOperation => ({
  client,
  key: "k",
  kind: "put",
  value,
  call,
  ret,
  outcome: "ok",
});
const get = (client: string, result: string | null, call: number, ret: number): KvOperation => ({
  client,
  key: "k",
  kind: "get",
  result,
  call,
  ret,
  outcome: "ok",
});

test("a linearizable history passes and counts its operations", (t) => {
  const v = checkKv([put("a", "1", 0, 1), get("b", "1", 2, 3), put("a", "2", 4, 5), get("b", "2", 6, 7)]);
  t.deepEqual(v.violations, []);
  t.is(v.count, 4);
});

test("a stale read is a violation on its key", (t) => {
  const v = checkKv([put("a", "1", 0, 1), put("a", "2", 2, 3), get("b", "1", 4, 5)]);
  t.is(v.violations.length, 1);
  t.regex(v.violations[0]!.what, /key "k"/);
});
