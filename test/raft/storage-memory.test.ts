/**
 * MemoryStorage: entries, terms, compaction, snapshots and their errors.
 */
import test from "ava";
import {
  bootstrapState,
  CompactedError,
  type ConfState,
  MemoryStorage,
  SnapshotOutOfDateError,
  UnavailableError,
} from "../../raft/index.ts";
import { enc, ent } from "./helpers.ts";

const CONF: ConfState = { voters: ["a", "b", "c"], learners: [] };

/** Bootstrap (snapshot at 1, term 1) then entries 2..6 with terms 1,2,2,3,3. */
function filled(): MemoryStorage {
  const s = new MemoryStorage({ conf: CONF });
  s.append([ent(2, 1), ent(3, 2), ent(4, 2), ent(5, 3), ent(6, 3)]);
  return s;
}

test("MemoryStorage: an empty storage (a joining node) has no configuration and an empty log", (t) => {
  const s = new MemoryStorage();
  t.deepEqual(s.initialState(), {
    hardState: { term: 0, vote: "", commit: 0 },
    conf: { voters: [], learners: [] },
  });
  t.is(s.firstIndex(), 1);
  t.is(s.lastIndex(), 0);
  t.is(s.term(0), 0);
  t.is(s.snapshot().meta.index, 0);
});

test("MemoryStorage: a founder starts from the bootstrap snapshot at index 1, term 1, commit 1", (t) => {
  const s = new MemoryStorage({ conf: CONF });
  const boot = bootstrapState(CONF);
  t.deepEqual(s.initialState(), { hardState: boot.hardState, conf: CONF });
  t.deepEqual(s.snapshot().meta, { index: 1, term: 1, conf: CONF });
  t.is(s.firstIndex(), 2);
  t.is(s.lastIndex(), 1);
  t.is(s.term(1), 1);
  t.throws(
    () => s.entries(1, 2, 100),
    { instanceOf: CompactedError },
    "index 1 is compacted on every founder",
  );
});

test("MemoryStorage: setHardState/hardState round trip", (t) => {
  const s = new MemoryStorage({ conf: CONF });
  s.setHardState({ term: 4, vote: "b", commit: 1 });
  t.deepEqual(s.hardState(), { term: 4, vote: "b", commit: 1 });
  t.deepEqual(s.initialState().hardState, { term: 4, vote: "b", commit: 1 });
});

test("MemoryStorage: entries returns [lo, hi) and terms are readable from the snapshot index on", (t) => {
  const s = filled();
  t.deepEqual(
    s.entries(3, 6, Number.POSITIVE_INFINITY).map((e) => [e.index, e.term]),
    [
      [3, 2],
      [4, 2],
      [5, 3],
    ],
  );
  t.deepEqual(s.entries(4, 4, 100), []);
  t.deepEqual(
    [1, 2, 3, 4, 5, 6].map((i) => s.term(i)),
    [1, 1, 2, 2, 3, 3],
  );
  t.is(s.firstIndex(), 2);
  t.is(s.lastIndex(), 6);
});

test("MemoryStorage: entries stops at maxBytes but always returns at least one entry", (t) => {
  const s = filled(); // each entry: "iNtM" = 4 bytes + 16 = 20
  t.is(s.entries(2, 7, 0).length, 1);
  t.is(s.entries(2, 7, 20).length, 1);
  t.is(s.entries(2, 7, 40).length, 2);
  t.is(s.entries(2, 7, 59).length, 2);
  t.is(s.entries(2, 7, 1000).length, 5);
});

test("MemoryStorage: out-of-range reads throw CompactedError / UnavailableError naming the index", (t) => {
  const s = filled();
  const c1 = t.throws(() => s.entries(1, 3, 100), { instanceOf: CompactedError });
  t.is(c1?.index, 1);
  const u1 = t.throws(() => s.entries(5, 8, 100), { instanceOf: UnavailableError });
  t.is(u1?.index, 7);
  const c2 = t.throws(() => s.term(0), { instanceOf: CompactedError });
  t.is(c2?.index, 0);
  const u2 = t.throws(() => s.term(7), { instanceOf: UnavailableError });
  t.is(u2?.index, 7);
  t.regex(u2?.message ?? "", /7/);
});

test("MemoryStorage: append replaces the suffix it overlaps (conflict resolution)", (t) => {
  const s = filled();
  s.append([ent(4, 4), ent(5, 4)]);
  t.is(s.lastIndex(), 5);
  t.deepEqual(
    s.entries(2, 6, Number.POSITIVE_INFINITY).map((e) => e.term),
    [1, 2, 4, 4],
  );
});

test("MemoryStorage: append ignores entries already covered by the snapshot and refuses gaps", (t) => {
  const s = filled();
  s.createSnapshot(4, CONF, enc("s4"));
  s.append([ent(3, 2), ent(4, 2), ent(5, 3), ent(6, 3), ent(7, 3)]);
  t.is(s.firstIndex(), 5);
  t.is(s.lastIndex(), 7);
  s.append([ent(2, 1), ent(3, 2)]); // entirely covered: a no-op
  t.is(s.lastIndex(), 7);
  s.append([]);
  t.is(s.lastIndex(), 7);
  const err = t.throws(() => s.append([ent(9, 3)]), { instanceOf: UnavailableError });
  t.is(err?.index, 9);
  t.is(s.lastIndex(), 7, "nothing written on error");
});

test("MemoryStorage: createSnapshot compacts the log behind it and keeps its index and term", (t) => {
  const s = filled();
  const snap = s.createSnapshot(4, CONF, enc("state"));
  t.deepEqual(snap.meta, { index: 4, term: 2, conf: CONF });
  t.is(s.snapshot(), snap);
  t.is(s.firstIndex(), 5);
  t.is(s.lastIndex(), 6);
  t.is(s.term(4), 2, "the snapshot index keeps its term");
  t.throws(() => s.term(3), { instanceOf: CompactedError });
  t.throws(() => s.entries(4, 6, 100), { instanceOf: CompactedError });
  t.deepEqual(
    s.entries(5, 7, 100).map((e) => e.index),
    [5, 6],
  );
});

test("MemoryStorage: createSnapshot refuses an old index (SnapshotOutOfDateError) and one beyond the log (UnavailableError)", (t) => {
  const s = filled();
  s.createSnapshot(4, CONF, enc("s"));
  const old = t.throws(() => s.createSnapshot(4, CONF, enc("s")), { instanceOf: SnapshotOutOfDateError });
  t.is(old?.index, 4);
  t.throws(() => s.createSnapshot(3, CONF, enc("s")), { instanceOf: SnapshotOutOfDateError });
  const far = t.throws(() => s.createSnapshot(7, CONF, enc("s")), { instanceOf: UnavailableError });
  t.is(far?.index, 7);
  t.is(s.snapshot().meta.index, 4);
});

test("MemoryStorage: applySnapshot replaces everything, and refuses a snapshot that is not newer", (t) => {
  const s = filled();
  const conf: ConfState = { voters: ["a", "b"], learners: ["c"] };
  s.applySnapshot({ meta: { index: 10, term: 5, conf }, data: enc("s10") });
  t.is(s.firstIndex(), 11);
  t.is(s.lastIndex(), 10);
  t.is(s.term(10), 5);
  t.deepEqual(s.initialState().conf, conf);
  const err = t.throws(() => s.applySnapshot({ meta: { index: 10, term: 5, conf }, data: enc("again") }), {
    instanceOf: SnapshotOutOfDateError,
  });
  t.is(err?.index, 10);
  t.throws(() => s.applySnapshot({ meta: { index: 3, term: 2, conf }, data: enc("old") }), {
    instanceOf: SnapshotOutOfDateError,
  });
  t.is(s.snapshot().meta.index, 10);
});

test("MemoryStorage: errors carry their names (for callers that branch on them)", (t) => {
  t.is(new CompactedError(1).name, "CompactedError");
  t.is(new UnavailableError(1).name, "UnavailableError");
  t.is(new SnapshotOutOfDateError(1).name, "SnapshotOutOfDateError");
});
