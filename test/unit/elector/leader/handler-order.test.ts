/**
 * The handler runner's lease, order and coalescing, in one process (runner-fixture.ts): a run
 * is renewed only by a quorum confirmation, to that confirmation's time + L; runs of one
 * handler start in commit order, `concurrency` at a time, and a retry keeps its place; a
 * `mode: latest` handler covers every waiting event with one run, recorded as covering them.
 */
import test from "ava";
import { renewalLine } from "../../../../src/process/lease-watchdog.ts";
import { drained } from "../fakes.ts";
import { bootCs, handler, LEASE_MS, RENEW_MS, setup } from "./runner-fixture.ts";

test("a running handler's lease is renewed only with a quorum confirmation, to the time it was asked + L", async (t) => {
  const s = setup();
  s.runner.becameLeader(2);
  s.holdConfirmations();
  s.down("m1");
  const p = await s.spawner.process(1);

  // The first renewal round asks a quorum; until the answer comes, nothing is renewed.
  s.clock.advance(RENEW_MS);
  t.is(s.confirms.length, 1);
  const askedAt = s.confirms[0]!.askedAt;
  s.clock.advance(40); // the answer takes a while: the lease still counts from the question
  s.confirms[0]!.resolve(askedAt);
  await drained();
  t.deepEqual(p.controlLines, [renewalLine(bootCs(askedAt + LEASE_MS))]);

  // A round that cannot be confirmed (a lost quorum) renews nothing; the next one still asks.
  s.clock.advance(RENEW_MS);
  t.is(s.confirms.length, 2);
  s.confirms[1]!.reject(new Error("no quorum"));
  await drained();
  t.is(p.controlLines.length, 1);
  s.clock.advance(RENEW_MS);
  t.is(s.confirms.length, 3);

  // Once the run has ended, no renewal round is left scheduled.
  p.end(0);
  await s.node.event((e) => e.type === "handler-succeeded");
  await drained();
  t.deepEqual(s.clock.dueIn(), []);
});

test("with concurrency 1, a burst of 30 events runs one at a time, started in commit order", async (t) => {
  const s = setup();
  s.runner.becameLeader(2);
  const downs = Array.from({ length: 30 }, (_, i) => s.down(`m${i}`));
  for (let n = 1; n <= 30; n++) {
    const p = await s.spawner.process(n);
    t.is(p.request.env.CONCLAVE_EVENT_ID, String(downs[n - 1]!.id), `run ${n} is for the ${n}th event`);
    // Only this one has started: the next waits for it.
    t.is(s.spawner.started.length, n);
    s.clock.advance(5);
    p.end(0);
    await s.node.event((e) => e.type === "handler-succeeded" && e.details.event === downs[n - 1]!.id);
  }
  const starts = s.node.events.filter((e) => e.type === "handler-started").map((e) => e.details.event);
  t.deepEqual(
    starts,
    downs.map((d) => d.id),
  );
});

test("with concurrency 2, two run at once and the third starts when one ends, in commit order", async (t) => {
  const s = setup({ handlers: [handler({ concurrency: 2 })] });
  s.runner.becameLeader(2);
  const [d1, d2, d3] = [s.down("m1"), s.down("m2"), s.down("m3")];
  const [p1, p2] = [await s.spawner.process(1), await s.spawner.process(2)];
  t.deepEqual(
    [p1.request.env.CONCLAVE_EVENT_ID, p2.request.env.CONCLAVE_EVENT_ID],
    [String(d1.id), String(d2.id)],
  );
  await drained();
  t.is(s.spawner.started.length, 2);
  p2.end(0);
  const p3 = await s.spawner.process(3);
  t.is(p3.request.env.CONCLAVE_EVENT_ID, String(d3.id));
  p1.end(0);
  p3.end(0);
  await s.node.event((e) => e.type === "handler-succeeded" && e.details.event === d3.id);
});

test("a failing event keeps its place: a later event waits through its retries", async (t) => {
  const s = setup({ handlers: [handler({ retries: 1 })], retryBaseMs: 100 });
  s.runner.becameLeader(2);
  const [d1, d2] = [s.down("m1"), s.down("m2")];
  (await s.spawner.process(1)).end(1);
  t.is(await s.clock.timerSet(1, RENEW_MS), 100);
  s.clock.advance(100);
  const retry = await s.spawner.process(2);
  t.deepEqual(
    [retry.request.env.CONCLAVE_EVENT_ID, retry.request.env.CONCLAVE_ATTEMPT],
    [String(d1.id), "2"],
  );
  retry.end(1);
  await s.node.event((e) => e.type === "handler-failed" && e.details.event === d1.id);
  const next = await s.spawner.process(3);
  t.is(next.request.env.CONCLAVE_EVENT_ID, String(d2.id));
  next.end(0);
  await s.node.event((e) => e.type === "handler-succeeded" && e.details.event === d2.id);
  t.deepEqual(
    s.node.events.filter((e) => e.type === "handler-started").map((e) => e.details.event),
    [d1.id, d1.id, d2.id],
  );
});

test("mode latest: the events that waited behind a run are covered by one run with the newest view", async (t) => {
  const s = setup({ handlers: [handler({ mode: "latest", on: ["member-down", "member-up"] })] });
  s.runner.becameLeader(2);
  const first = s.down("m1");
  const p1 = await s.spawner.process(1);
  t.is(p1.request.env.CONCLAVE_COVERS, String(first.id));
  const waiting = [s.down("m2"), s.down("m3"), s.down("m4")];
  s.node.commitEvent({ type: "member-up", member: "m1", service: null, details: {} });
  const last = s.down("m5");
  waiting.push(s.node.events.filter((e) => e.type === "member-up").at(-1)!, last);
  waiting.sort((a, b) => a.id - b.id);
  p1.end(0);

  const p2 = await s.spawner.process(2);
  const ids = waiting.map((e) => e.id);
  t.is(p2.request.env.CONCLAVE_EVENT_ID, String(last.id));
  t.is(p2.request.env.CONCLAVE_COVERS, ids.join(","));
  const stdin = JSON.parse(await p2.stdinText()) as { event: { id: number }; covers: number[] };
  t.is(stdin.event.id, last.id);
  t.deepEqual(stdin.covers, ids);
  const started = await s.node.event((e) => e.type === "handler-started" && e.details.event === last.id);
  t.deepEqual(started.details.covers, ids);
  p2.end(0);
  const done = await s.node.event((e) => e.type === "handler-succeeded" && e.details.event === last.id);
  t.deepEqual(done.details.covers, ids);

  // Every event has exactly one recorded run, and it succeeded.
  for (const e of [first, ...waiting])
    t.is(s.node.state.handlerRuns.get(e.id, "notify")?.outcome, "succeeded");
  t.is(s.spawner.started.length, 2);
  t.is(s.node.events.filter((e) => e.type === "handler-started").length, 2);
});

test("mode latest after a failover: the unknown run and the new events are covered together, after the bound", async (t) => {
  const s = setup({ handlers: [handler({ mode: "latest" })] });
  const d1 = s.down("m1", 1);
  s.node.commitEvent(
    {
      type: "handler-started",
      member: "m1",
      service: null,
      details: { event: d1.id, handler: "notify", attempt: 1, leader: "b", covers: [d1.id] },
    },
    1,
  );
  const d2 = s.down("m2", 1);
  s.runner.becameLeader(2);
  await drained();
  t.is(s.spawner.started.length, 0, "nothing runs before the old leader's runs must be dead");
  s.clock.advance(LEASE_MS * 2);
  const p = await s.spawner.process(1);
  t.deepEqual([p.request.env.CONCLAVE_COVERS, p.request.env.CONCLAVE_ATTEMPT], [`${d1.id},${d2.id}`, "2"]);
  p.end(0);
  await s.node.event((e) => e.type === "handler-succeeded");
  t.is(s.node.state.handlerRuns.get(d1.id, "notify")?.attempt, 2);
  t.is(s.node.state.handlerRuns.get(d2.id, "notify")?.outcome, "succeeded");
});

test("mode latest: 200 member-downs in one burst give far fewer runs than events, each covered once, and the last view lists exactly the live members", async (t) => {
  const s = setup({ handlers: [handler({ mode: "latest", on: ["member-joined", "member-down"] })] });
  s.runner.becameLeader(2);
  const names = Array.from({ length: 300 }, (_, i) => `m${i}`);
  for (const [i, m] of names.entries()) s.join(m, `10.2.${Math.floor(i / 250)}.${i % 250}:7001`);
  // A reconciler: each run publishes the members its stdin shows up (like the DNS handler).
  let published: string[] = [];
  let runs = 0;
  const finishRuns = async () => {
    for (;;) {
      const p = s.spawner.started[runs];
      if (!p) return;
      runs++;
      const doc = JSON.parse(await p.stdinText()) as { members: { name: string; status: string }[] };
      published = doc.members.filter((m) => m.status === "up").map((m) => m.name);
      p.end(0);
      await drained();
    }
  };
  await finishRuns();
  const downs = names.slice(0, 200).map((m) => s.down(m));
  await finishRuns();
  await drained();
  await finishRuns();

  t.true(runs <= 4, `${runs} runs for 500 events`);
  t.log(`${runs} runs covered 300 joins and 200 member-downs`);
  t.deepEqual(published.sort(), names.slice(200).sort());
  // Every member-down is covered by exactly one handler-started, and has a succeeded outcome.
  const startedCovers = s.node.events
    .filter((e) => e.type === "handler-started")
    .flatMap((e) => e.details.covers as number[]);
  for (const d of downs) {
    t.is(startedCovers.filter((id) => id === d.id).length, 1, `event ${d.id} covered once`);
    t.is(s.node.state.handlerRuns.get(d.id, "notify")?.outcome, "succeeded");
  }
});
