/**
 * Progress: the leader's view of one follower (probe / replicate / snapshot).
 */
import test from "ava";
import { Progress } from "../../raft/progress.ts";

function pr(next = 5, maxInflight = 2): Progress {
  return new Progress({ next, isLearner: false, maxInflight, maxInflightBytes: 0 });
}

test("Progress: starts probing with match 0", (t) => {
  const p = pr(5);
  t.is(p.state, "probe");
  t.is(p.match, 0);
  t.is(p.next, 5);
  t.false(p.isPaused());
  t.false(p.isLearner);
  t.true(new Progress({ next: 1, isLearner: true, maxInflight: 1, maxInflightBytes: 0 }).isLearner);
});

test("Progress: in probe state, one message is sent and then sending pauses until an answer", (t) => {
  const p = pr(5);
  p.sentEntries(7, 3, 30);
  t.true(p.probeSent);
  t.true(p.isPaused());
  t.is(p.next, 5, "a probe does not move next optimistically");
  t.true(p.maybeUpdate(7));
  t.false(p.isPaused(), "an answer un-pauses");
  t.is(p.match, 7);
  t.is(p.next, 8);
});

test("Progress: maybeUpdate ignores stale acknowledgements", (t) => {
  const p = pr(5);
  t.true(p.maybeUpdate(6));
  t.false(p.maybeUpdate(4));
  t.false(p.maybeUpdate(6));
  t.is(p.match, 6);
  t.is(p.next, 7);
});

test("Progress: in replicate state, next moves optimistically and the inflight window bounds sending", (t) => {
  const p = pr(5, 2);
  p.maybeUpdate(4);
  p.becomeReplicate();
  t.is(p.state, "replicate");
  t.is(p.next, 5);
  p.sentEntries(6, 2, 20);
  t.is(p.next, 7);
  t.false(p.isPaused());
  p.sentEntries(8, 2, 20);
  t.is(p.next, 9);
  t.true(p.isPaused(), "window of 2 full");
  p.sentEntries(8, 0, 0); // an empty append takes no slot
  t.is(p.inflights.count(), 2);
  p.maybeUpdate(6);
  p.inflights.freeLE(6);
  t.false(p.isPaused());
});

test("Progress: maybeDecrTo in replicate state falls back to match + 1, ignoring stale rejections", (t) => {
  const p = pr(5);
  p.maybeUpdate(10);
  p.becomeReplicate();
  p.sentEntries(15, 5, 50);
  t.false(p.maybeDecrTo(9, 3), "a rejection at or below match is stale");
  t.is(p.next, 16);
  t.true(p.maybeDecrTo(12, 3));
  t.is(p.next, 11);
});

test("Progress: maybeDecrTo in probe state uses the follower's hint, only for the probe in flight", (t) => {
  const p = pr(20);
  p.sentEntries(25, 5, 50);
  t.true(p.isPaused());
  t.false(p.maybeDecrTo(15, 3), "not the index we probed (next - 1 = 19)");
  t.true(p.isPaused());
  t.true(p.maybeDecrTo(19, 7));
  t.is(p.next, 8, "hint + 1");
  t.false(p.isPaused(), "may probe again at once");
  t.true(p.maybeDecrTo(7, 100));
  t.is(p.next, 7, "never above the rejected index");
  t.true(p.maybeDecrTo(6, -5));
  t.is(p.next, 1, "never below 1");
});

test("Progress: snapshot state pauses sending; becomeProbe afterwards resumes after the snapshot", (t) => {
  const p = pr(5);
  p.maybeUpdate(3);
  p.becomeSnapshot(40);
  t.is(p.state, "snapshot");
  t.is(p.pendingSnapshot, 40);
  t.true(p.isPaused());
  p.becomeProbe();
  t.is(p.state, "probe");
  t.is(p.next, 41, "max(match + 1, pendingSnapshot + 1)");
  t.is(p.pendingSnapshot, 0);
  p.becomeSnapshot(40);
  p.pendingSnapshot = 0; // a failed snapshot
  p.becomeProbe();
  t.is(p.next, 4, "back to match + 1");
});

test("Progress: becomeProbe from replicate resets next to match + 1 and empties the window", (t) => {
  const p = pr(5, 1);
  p.maybeUpdate(4);
  p.becomeReplicate();
  p.sentEntries(9, 5, 50);
  t.true(p.isPaused());
  p.becomeProbe();
  t.is(p.next, 5);
  t.is(p.inflights.count(), 0);
  t.false(p.isPaused());
});

// Regression: maybeDecrTo once clamped next at 1 instead of match + 1, so a stale rejection
// whose index equals match (a duplicate delivered after the follower caught up and was put
// back into probe) broke the invariant `match < next`. etcd-io/raft clamps at pr.Match+1.
test("Progress: maybeDecrTo never moves next to or below match (invariant match < next)", (t) => {
  const p = pr(20);
  t.true(p.maybeUpdate(10));
  p.becomeProbe(); // next = 11
  t.is(p.next, 11);
  // a late duplicate of an old rejection of index 10, hinting at index 3
  p.maybeDecrTo(10, 3);
  t.true(p.next > p.match, `match ${p.match}, next ${p.next}`);
});
