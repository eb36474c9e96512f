/**
 * RaftLog: the stable (Storage) + unstable log with commit and apply cursors.
 */
import test from "ava";
import { CompactedError, type ConfState, MemoryStorage, UnavailableError } from "../../raft/index.ts";
import { RaftLog } from "../../raft/raft-log.ts";
import { enc, ent } from "./helpers.ts";

const CONF: ConfState = { voters: ["a"], learners: [] };

/** Storage holds 2..4 (terms 1,2,2); the unstable part holds 5..6 (terms 3,3). */
function log(): RaftLog {
  const s = new MemoryStorage({ conf: CONF });
  s.append([ent(2, 1), ent(3, 2), ent(4, 2)]);
  const l = new RaftLog(s);
  l.append([ent(5, 3), ent(6, 3)]);
  return l;
}

test("RaftLog: indexes and terms span storage and the unstable part", (t) => {
  const l = log();
  t.is(l.firstIndex(), 2);
  t.is(l.lastIndex(), 6);
  t.is(l.lastTerm(), 3);
  t.deepEqual(
    [0, 1, 2, 3, 4, 5, 6, 7].map((i) => l.term(i)),
    [undefined, 1, 1, 2, 2, 3, 3, undefined],
  );
  t.is(l.committed, 1);
  t.is(l.applied, 1);
  t.deepEqual(
    l.unstableEntries().map((e) => e.index),
    [5, 6],
  );
});

test("RaftLog: isUpToDate compares last term first, then last index", (t) => {
  const l = log(); // last (term 3, index 6)
  t.true(l.isUpToDate(1, 4), "higher term wins even if shorter");
  t.false(l.isUpToDate(100, 2), "lower term loses even if longer");
  t.true(l.isUpToDate(6, 3));
  t.true(l.isUpToDate(7, 3));
  t.false(l.isUpToDate(5, 3));
});

test("RaftLog: findConflict returns the first new or mismatching index, 0 when all present", (t) => {
  const l = log();
  t.is(l.findConflict([]), 0);
  t.is(l.findConflict([ent(3, 2), ent(4, 2)]), 0);
  t.is(l.findConflict([ent(4, 2), ent(5, 3), ent(6, 3), ent(7, 3)]), 7);
  t.is(l.findConflict([ent(4, 2), ent(5, 4)]), 5);
});

test("RaftLog: findConflictByTerm skips back over entries of higher terms", (t) => {
  const l = log();
  t.deepEqual(l.findConflictByTerm(6, 3), { index: 6, term: 3 });
  t.deepEqual(l.findConflictByTerm(6, 2), { index: 4, term: 2 });
  t.deepEqual(l.findConflictByTerm(100, 2), { index: 4, term: 2 }, "clamped to the last index");
  t.deepEqual(l.findConflictByTerm(6, 1), { index: 2, term: 1 });
  t.deepEqual(l.findConflictByTerm(6, 0), { index: 0, term: 0 }, "runs off the start: term unknown");
});

test("RaftLog: maybeAppend checks the previous entry, truncates a conflict and bounds commit", (t) => {
  const l = log();
  t.is(l.maybeAppend(4, 3, 5, [ent(5, 3)]), undefined, "prev term mismatch");
  t.is(l.maybeAppend(9, 3, 5, []), undefined, "prev beyond the log");
  t.is(l.committed, 1);
  t.deepEqual(l.maybeAppend(3, 2, 10, [ent(4, 2), ent(5, 4)]), { lastNew: 5, conflict: 5 });
  t.is(l.lastIndex(), 5);
  t.is(l.term(5), 4);
  t.is(l.committed, 5, "min(leader commit 10, last new 5)");
});

test("RaftLog: truncating a committed entry or committing beyond the log is an invariant violation", (t) => {
  const l = log();
  l.commitTo(5);
  t.throws(() => l.maybeAppend(3, 2, 0, [ent(4, 9)]), { message: /invariant/ });
  t.throws(() => l.append([ent(3, 9)]), { message: /invariant/ });
  t.throws(() => l.commitTo(7), { message: /beyond last index/ });
  l.commitTo(2);
  t.is(l.committed, 5, "commit never goes back");
});

test("RaftLog: maybeCommit commits only an entry of the given term", (t) => {
  const l = log();
  t.false(l.maybeCommit(4, 3), "entry 4 is of term 2");
  t.is(l.committed, 1);
  t.true(l.maybeCommit(5, 3));
  t.is(l.committed, 5);
  t.false(l.maybeCommit(5, 3), "not beyond commit");
});

test("RaftLog: appliedTo stays within [applied, committed]", (t) => {
  const l = log();
  l.commitTo(4);
  l.appliedTo(3);
  t.is(l.applied, 3);
  t.throws(() => l.appliedTo(5), { message: /invariant/ });
  t.throws(() => l.appliedTo(2), { message: /invariant/ });
  l.appliedTo(0); // ignored
  t.is(l.applied, 3);
});

test("RaftLog: committed entries are handed out from applied + 1 to commit, bounded by bytes", (t) => {
  const l = log();
  t.false(l.hasNextCommittedEntries());
  t.deepEqual(l.nextCommittedEntries(1000), []);
  l.commitTo(6);
  t.true(l.hasNextCommittedEntries());
  t.deepEqual(
    l.nextCommittedEntries(1000).map((e) => e.index),
    [2, 3, 4, 5, 6],
  );
  t.deepEqual(
    l.nextCommittedEntries(0).map((e) => e.index),
    [2],
    "at least one",
  );
  // 20 bytes per entry: storage stops after two, unstable entries are not added
  t.deepEqual(
    l.nextCommittedEntries(45).map((e) => e.index),
    [2, 3],
  );
  l.appliedTo(4);
  // storage part exhausted within the limit, then the unstable part is bounded as well
  t.deepEqual(
    l.nextCommittedEntries(25).map((e) => e.index),
    [5],
  );
});

test("RaftLog: slice and entriesFrom across storage and unstable entries, with range errors", (t) => {
  const l = log();
  t.deepEqual(
    l.slice(3, 7, 1000).map((e) => e.index),
    [3, 4, 5, 6],
  );
  t.deepEqual(
    l.entriesFrom(5, 1000).map((e) => e.index),
    [5, 6],
  );
  t.deepEqual(l.entriesFrom(7, 1000), []);
  t.deepEqual(l.slice(4, 4, 1000), []);
  t.throws(() => l.slice(1, 3, 1000), { instanceOf: CompactedError });
  t.throws(() => l.slice(3, 8, 1000), { instanceOf: UnavailableError });
});

test("RaftLog: stableTo moves persisted entries out of the unstable part, unless they were replaced", (t) => {
  const l = log();
  l.stableTo(6, 9); // wrong term: replaced meanwhile, ignore
  t.is(l.unstableEntries().length, 2);
  l.stableTo(5, 3);
  t.deepEqual(
    l.unstableEntries().map((e) => e.index),
    [6],
  );
  l.stableTo(4, 2); // already stable
  t.is(l.unstableEntries().length, 1);
});

test("RaftLog: appending over part of the unstable entries keeps the prefix", (t) => {
  const l = log();
  l.append([ent(7, 3), ent(8, 3)]);
  l.append([ent(8, 4)]);
  t.deepEqual(
    l.unstableEntries().map((e) => `${e.index}:${e.term}`),
    ["5:3", "6:3", "7:3", "8:4"],
  );
  l.append([ent(4, 5)]); // before the unstable part: replaces all of it
  t.deepEqual(
    l.unstableEntries().map((e) => `${e.index}:${e.term}`),
    ["4:5"],
  );
  t.is(l.lastIndex(), 4);
  t.is(l.term(4), 5);
  t.is(l.term(3), 2);
});

test("RaftLog: restore installs a snapshot as the new start of the log", (t) => {
  const l = log();
  const snap = { meta: { index: 10, term: 4, conf: CONF }, data: enc("s") };
  l.restore(snap);
  t.is(l.committed, 10);
  t.is(l.firstIndex(), 11);
  t.is(l.lastIndex(), 10);
  t.is(l.term(10), 4);
  t.is(l.term(9), undefined);
  t.is(l.snapshot(), snap, "the pending snapshot is the one to send");
  l.stableSnapTo(9);
  t.is(l.snapshot(), snap, "another index: still pending");
  l.stableSnapTo(10);
  t.not(l.snapshot(), snap, "persisted: storage's snapshot is used again");
});

test("RaftLog: storage errors other than compaction/unavailability propagate from term()", (t) => {
  const s = new MemoryStorage({ conf: CONF });
  s.append([ent(2, 1)]);
  const broken = Object.assign(Object.create(s) as MemoryStorage, {
    term: () => {
      throw new Error("disk on fire");
    },
  });
  const l = new RaftLog(broken);
  t.throws(() => l.term(2), { message: "disk on fire" });
});
