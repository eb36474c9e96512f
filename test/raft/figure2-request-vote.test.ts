/**
 * Raft paper, Figure 2, "RequestVote RPC / Receiver implementation":
 * 1. Reply false if term < currentTerm.
 * 2. If votedFor is null or candidateId, and candidate's log is at least as up-to-date as
 *    receiver's log, grant vote. (§5.4.1: compare the last entries' terms; if equal, the longer log.)
 */
import test from "ava";
import type { Message } from "../../raft/index.ts";
import { msg, newNode, type TestNode } from "./helpers.ts";

const VOTERS = ["a", "b", "c", "d"];

/** A voter b at term 3 whose log is 2:2 3:2 4:3 (last term 3, last index 4). */
function voter(): TestNode {
  return newNode("b", { voters: VOTERS, log: [2, 2, 3], term: 3 });
}

function request(
  from: string,
  term: number,
  logTerm: number,
  index: number,
  type: "vote" | "prevote" = "vote",
): Message {
  return msg({ type, from, to: "b", term, logTerm, index });
}

/** The vote responses b sent, after processing its Ready. */
function answers(b: TestNode): Message[] {
  return b.drain().filter((m) => m.type === "vote-resp" || m.type === "prevote-resp");
}

test("RequestVote: reply false if term < currentTerm", (t) => {
  const b = voter();
  b.step(request("a", 2, 3, 100)); // a log that would otherwise win
  const out = answers(b);
  t.false(
    out.some((m) => !m.reject),
    "no grant",
  );
  t.is(b.vote, "");
  t.is(b.term, 3);
});

test("RequestVote: grant if votedFor is null and the candidate's log is at least as up to date", (t) => {
  const b = voter();
  b.step(request("a", 4, 3, 4));
  const out = answers(b);
  t.is(out.length, 1);
  t.like(out[0], { type: "vote-resp", to: "a", term: 4, reject: false });
  t.is(b.vote, "a");
  t.is(b.term, 4);
});

test("RequestVote: grant again to the candidate already voted for (votedFor == candidateId)", (t) => {
  const b = voter();
  b.step(request("a", 4, 3, 4));
  answers(b);
  b.step(request("a", 4, 3, 4)); // a retransmission
  const out = answers(b);
  t.is(out.length, 1);
  t.false(out[0]!.reject);
});

test("RequestVote: reject a second candidate of the same term (votedFor is someone else)", (t) => {
  const b = voter();
  b.step(request("a", 4, 3, 4));
  answers(b);
  b.step(request("c", 4, 3, 99)); // even with a longer log
  const out = answers(b);
  t.is(out.length, 1);
  t.like(out[0], { to: "c", reject: true });
  t.is(b.vote, "a");
});

test("RequestVote: reject a candidate whose last log term is lower, even if its log is longer", (t) => {
  const b = voter();
  b.step(request("a", 4, 2, 50));
  const out = answers(b);
  t.is(out.length, 1);
  t.true(out[0]!.reject);
  t.is(b.vote, "");
  t.is(b.term, 4, "the higher term is still adopted (all servers rule)");
});

test("RequestVote: reject a candidate with the same last term but a shorter log", (t) => {
  const b = voter();
  b.step(request("a", 4, 3, 3));
  const out = answers(b);
  t.is(out.length, 1);
  t.true(out[0]!.reject);
  t.is(b.vote, "");
});

test("RequestVote: grant a candidate with the same last term and a longer log", (t) => {
  const b = voter();
  b.step(request("a", 4, 3, 5));
  t.false(answers(b)[0]!.reject);
});

test("RequestVote: grant a candidate with a higher last term, even if its log is shorter", (t) => {
  const b = voter();
  b.step(request("a", 5, 4, 2));
  t.false(answers(b)[0]!.reject);
  t.is(b.vote, "a");
});

test("RequestVote: a follower that already follows a leader in this term does not vote in it", (t) => {
  const b = voter();
  b.step(msg({ type: "heartbeat", from: "c", to: "b", term: 3 }));
  b.drain();
  b.step(request("a", 3, 3, 4));
  const out = answers(b);
  t.is(out.length, 1);
  t.true(out[0]!.reject);
  t.is(b.vote, "");
});

test("RequestVote: a pre-vote is answered like a vote but changes neither term nor votedFor", (t) => {
  const b = voter();
  b.step(request("a", 4, 3, 4, "prevote"));
  const out = answers(b);
  t.is(out.length, 1);
  t.like(out[0], { type: "prevote-resp", to: "a", term: 4, reject: false });
  t.is(b.term, 3);
  t.is(b.vote, "");
  // and it is subject to the same log check
  b.step(request("c", 4, 2, 40, "prevote"));
  t.true(answers(b)[0]!.reject);
});

test("RequestVote: a pre-vote for a future term is granted even after voting in the current term", (t) => {
  const b = voter();
  b.step(request("a", 4, 3, 4));
  answers(b);
  b.step(request("c", 5, 3, 4, "prevote"));
  const out = answers(b);
  t.false(out[0]!.reject);
  t.is(b.vote, "a");
  t.is(b.term, 4);
});

test("RequestVote: a pre-vote of an older term is rejected with the current term", (t) => {
  const b = voter();
  b.step(request("a", 2, 3, 4, "prevote"));
  const out = answers(b);
  t.is(out.length, 1);
  t.like(out[0], { type: "prevote-resp", reject: true, term: 3 });
});
