/**
 * The leader's exactly-once handler runner in one process: a fake node commits what the
 * runner proposes into a real CoordinatorState (through the real event committer, so events
 * carry the shared time stamp), a manual clock drives the runner's waits, and a fake spawner
 * hands out processes the test ends by hand. Checked: a committed event gives exactly one
 * attempt, fenced by its handler-started entry; a leadership loss kills the run at once and
 * records nothing; a new leader waits for the handler-lease bound before attempt + 1;
 * failures are retried with a doubling, capped backoff; `conclave handlers retry` re-runs a
 * failed pair only; every run starts under the lease watchdog and is renewed only with a
 * quorum confirmation; runs of one handler start in commit order, `concurrency` at a time;
 * `mode: latest` covers every waiting event with one run. "Nothing else happened" is always
 * shown by a later event, never a sleep.
 */
import test from "ava";
import { memberView } from "../../../../src/coordinator/member-view.ts";
import { watchdogScriptPath } from "../../../../src/process/lease-watchdog.ts";
import { HandlerRetryError, MAX_RETRY_DELAY_MS } from "../../../../src/elector/leader/handler-runner.ts";
import { drained, FIXED_TIME } from "../fakes.ts";
import { bootCs, handler, LEASE_MS, outcomeOf, RENEW_MS, setup, STEP_DOWN_MS } from "./runner-fixture.ts";
test("a committed event gives one attempt, fenced by its handler-started entry, then handler-succeeded", async (t) => {
  const s = setup();
  s.join("m1", "10.1.0.1:7001");
  s.runner.becameLeader(2);
  const down = s.down("m1");
  const p = await s.spawner.process(1);
  const started = await s.node.event((e) => e.type === "handler-started");
  t.deepEqual(started.details, { event: down.id, handler: "notify", attempt: 1, leader: "a" });
  t.is(started.time, FIXED_TIME.toISOString());
  t.is(started.term, 2);

  // The lease watchdog guards the run, with a first deadline one lease after handler-started
  // was proposed (the manual clock did not move), and execs the handler's command.
  t.is(p.request.file, "bash");
  t.true(p.request.controlPipe);
  t.deepEqual(p.request.args, [
    watchdogScriptPath(),
    "--run",
    String(bootCs(s.clock.now() + LEASE_MS)),
    "/bin/sh",
    "-c",
    "notify-oncall",
  ]);
  const env = p.request.env;
  t.deepEqual(
    [
      env.CONCLAVE_EVENT,
      env.CONCLAVE_EVENT_ID,
      env.CONCLAVE_HANDLER,
      env.CONCLAVE_ATTEMPT,
      env.CONCLAVE_TERM,
      env.CONCLAVE_FENCE,
      env.CONCLAVE_MEMBER,
      env.CONCLAVE_MEMBER_ADDRESS,
      env.CONCLAVE_SERVICE,
      env.CONCLAVE_CLUSTER,
      env.CONCLAVE_COVERS,
      env.CONCLAVE_DRY_RUN,
    ],
    [
      "member-down",
      String(down.id),
      "notify",
      "1",
      "2",
      `2:${started.id}`,
      "m1",
      "10.1.0.1:7001",
      "",
      "test-cluster",
      String(down.id),
      "",
    ],
  );
  const members = s.node.state.members.list().map((m) => memberView(m, s.node.state.masters));
  t.deepEqual(
    JSON.parse(await p.stdinText()),
    JSON.parse(JSON.stringify({ event: down, covers: [down.id], members })),
  );

  s.clock.advance(250);
  p.end(0, null, "paged\n");
  const done = await outcomeOf(s, "handler-succeeded", 1);
  t.deepEqual(done.details, {
    event: down.id,
    handler: "notify",
    attempt: 1,
    outcome: "exited",
    duration_ms: 250,
    exit_code: 0,
    signal: null,
    output: "paged\n",
    output_truncated: false,
    output_bytes: 6,
  });
  t.deepEqual(s.node.state.handlerRuns.get(down.id, "notify")?.outcome, "succeeded");

  // Nothing else: an unsubscribed event runs nothing, and the next member-down gets its own
  // attempt 1; by then the first event has had exactly one start and one outcome.
  s.node.commitEvent({ type: "member-up", member: "m1", service: null, details: {} });
  const down2 = s.down("m1");
  const p2 = await s.spawner.process(2);
  t.is(p2.request.env.CONCLAVE_EVENT_ID, String(down2.id));
  t.is(p2.request.env.CONCLAVE_ATTEMPT, "1");
  t.is(s.spawner.started.length, 2);
  t.deepEqual(
    s.about("handler-started", down.id).map((e) => e.details.attempt),
    [1],
  );
  t.deepEqual(s.handlerTypes(), ["handler-started", "handler-succeeded", "handler-started"]);
  t.deepEqual(s.clock.dueIn(), [RENEW_MS], "only the lease renewal is scheduled");
  p2.end(0);
  await s.node.event((e) => e.type === "handler-succeeded" && e.details.event === down2.id);
});

test("a leadership loss kills the running handler at once and records nothing of it", async (t) => {
  const s = setup({ handlers: [handler({ retries: 2 })] });
  s.runner.becameLeader(2);
  const down = s.down("m1");
  const p = await s.spawner.process(1);
  await s.node.event((e) => e.type === "handler-started");
  const closed = new Promise((r) => p.once("close", r));

  s.runner.lostLeadership();
  t.false(s.runner.isActive);
  // SIGKILL at once, no SIGTERM first: the next leader's wait has no room for a grace.
  t.deepEqual(p.signals, ["SIGKILL"]);
  await closed;
  // The killed run's outcome reaches the runner before this continuation runs; had it
  // proposed anything (an outcome, or a retry's handler-started), it would be proposed now.
  t.is(s.node.proposals.length, 1);
  t.deepEqual(s.clock.dueIn(), [], "no retry is scheduled");
  t.deepEqual(s.ended, [], "a run killed for a lost leadership is not observed by this node");

  // The later event: this node leads again (term 3) and, after the step-down bound, runs
  // attempt 2. Between the two starts the log holds no outcome of attempt 1.
  s.node.term = 3;
  s.runner.becameLeader(3);
  s.clock.advance(STEP_DOWN_MS);
  const p2 = await s.spawner.process(2);
  t.is(p2.request.env.CONCLAVE_ATTEMPT, "2");
  p2.end(0);
  await outcomeOf(s, "handler-succeeded", 2);
  t.deepEqual(s.handlerTypes(), ["handler-started", "handler-started", "handler-succeeded"]);
  t.like(s.ended, [{ handler: "notify", outcome: "succeeded" }]);
  t.deepEqual(
    s.about("handler-started", down.id).map((e) => [e.term, e.details.attempt]),
    [
      [2, 1],
      [3, 2],
    ],
  );
});

test("a new leader waits for the old leader's step-down bound before running attempt + 1", async (t) => {
  const s = setup();
  // Committed under leader b in term 1: attempt 1 started, outcome never recorded. A second
  // pair has its outcome and must never run again.
  const down = s.down("m1", 1);
  s.node.commitEvent(
    {
      type: "handler-started",
      member: "m1",
      service: null,
      details: { event: down.id, handler: "notify", attempt: 1, leader: "b" },
    },
    1,
  );
  const done = s.down("m2", 1);
  for (const type of ["handler-started", "handler-succeeded"] as const)
    s.node.commitEvent(
      { type, member: "m2", service: null, details: { event: done.id, handler: "notify", attempt: 1 } },
      1,
    );
  const before = s.node.proposals.length;

  s.runner.becameLeader(2);
  t.deepEqual(s.clock.dueIn(), [STEP_DOWN_MS]);
  s.clock.advance(STEP_DOWN_MS - 1);
  t.is(s.node.proposals.length, before, "nothing is proposed before the bound");
  t.is(s.spawner.started.length, 0);
  s.clock.advance(1);
  t.is(s.node.proposals.length, before + 1, "attempt 2 is proposed at the bound");

  const started = await s.node.event((e) => e.type === "handler-started" && e.details.attempt === 2);
  t.deepEqual(started.details, {
    event: down.id,
    handler: "notify",
    attempt: 2,
    leader: "a",
    previous: "unknown: the leader running it was lost",
  });
  const p = await s.spawner.process(1);
  t.deepEqual(
    [p.request.env.CONCLAVE_EVENT_ID, p.request.env.CONCLAVE_ATTEMPT, p.request.env.CONCLAVE_FENCE],
    [String(down.id), "2", `2:${started.id}`],
  );
  p.end(0);
  await outcomeOf(s, "handler-succeeded", 2);
  // The finished pair was left alone throughout.
  t.is(s.spawner.started.length, 1);
  t.deepEqual(
    s.about("handler-started", done.id).map((e) => e.details.attempt),
    [1],
  );
  t.deepEqual(s.clock.dueIn(), []);
});

test("failed attempts are retried after 1 × then 2 × the base delay; when retries run out handler-failed records the last", async (t) => {
  const s = setup({ handlers: [handler({ retries: 2 })], retryBaseMs: 100 });
  s.runner.becameLeader(2);
  const down = s.down("m1");

  const p1 = await s.spawner.process(1);
  s.clock.advance(30);
  p1.end(1, null, "no route\n");
  t.is(await s.clock.timerSet(1, RENEW_MS), 100);
  const proposed = s.node.proposals.length;
  s.clock.advance(99);
  t.is(s.node.proposals.length, proposed, "no attempt 2 before the delay");
  s.clock.advance(1);
  const a2 = await s.node.event((e) => e.type === "handler-started" && e.details.attempt === 2);
  t.deepEqual(a2.details.previous, {
    outcome: "exited",
    duration_ms: 30,
    exit_code: 1,
    signal: null,
    output: "no route\n",
    output_truncated: false,
    output_bytes: 9,
  });

  const p2 = await s.spawner.process(2);
  p2.end(null, "SIGSEGV");
  t.is(await s.clock.timerSet(2, RENEW_MS), 200);
  s.clock.advance(199);
  t.is(s.spawner.started.length, 2);
  s.clock.advance(1);
  const p3 = await s.spawner.process(3);
  t.is(p3.request.env.CONCLAVE_ATTEMPT, "3");

  // Retries used up: the third failure is final.
  p3.end(7);
  const failed = await outcomeOf(s, "handler-failed", 3);
  t.like(failed.details, { event: down.id, handler: "notify", attempt: 3, outcome: "exited", exit_code: 7 });
  t.deepEqual(s.handlerTypes(), ["handler-started", "handler-started", "handler-started", "handler-failed"]);
  t.deepEqual(s.clock.dueIn(), []);
  t.is(s.node.state.handlerRuns.get(down.id, "notify")?.outcome, "failed");
  // Each attempt is one observation of the run-duration histogram, by how it ended.
  t.deepEqual(s.ended, [
    { handler: "notify", outcome: "failed", durationMs: 30 },
    { handler: "notify", outcome: "failed", durationMs: 0 },
    { handler: "notify", outcome: "failed", durationMs: 0 },
  ]);
});

test("the retry delay doubles up to its cap", async (t) => {
  const s = setup({ handlers: [handler({ retries: 3 })], retryBaseMs: 20_000 });
  s.runner.becameLeader(2);
  s.down("m1");
  const delays: number[] = [];
  for (let n = 1; n <= 3; n++) {
    (await s.spawner.process(n)).end(1);
    const ms = await s.clock.timerSet(n, RENEW_MS);
    delays.push(ms);
    s.clock.advance(ms);
  }
  t.deepEqual(delays, [20_000, MAX_RETRY_DELAY_MS, MAX_RETRY_DELAY_MS]);
  (await s.spawner.process(4)).end(1);
  await outcomeOf(s, "handler-failed", 4);
});

test("handlers retry re-runs a failed pair as the next attempt, and only a failed one", async (t) => {
  const page = handler({ name: "page" });
  const s = setup({ handlers: [handler(), page] });
  t.throws(() => s.runner.retry(1, ""), {
    instanceOf: HandlerRetryError,
    message: /not \(yet\) acting as leader/,
  });
  s.runner.becameLeader(2);
  const down = s.down("m1");
  const [p1, p2] = [await s.spawner.process(1), await s.spawner.process(2)];
  const [notify, pageRun] = p1.request.env.CONCLAVE_HANDLER === "notify" ? [p1, p2] : [p2, p1];
  // While a pair runs, retry starts nothing for it.
  t.deepEqual(s.runner.retry(down.id, ""), []);
  notify.end(3);
  pageRun.end(0);
  await s.node.event((e) => e.type === "handler-failed");
  await s.node.event((e) => e.type === "handler-succeeded");
  // The runner is done with a pair once its outcome proposal has resolved, a few microtasks
  // after the commit itself (which is what `event` saw).
  await drained();

  t.throws(() => s.runner.retry(9999, ""), {
    instanceOf: HandlerRetryError,
    message: "event 9999 is not in the event log",
  });
  t.throws(() => s.runner.retry(down.id, "nope"), {
    instanceOf: HandlerRetryError,
    message: 'handler "nope" is not configured for member-down events on the leader',
  });
  t.deepEqual(s.runner.retry(down.id, ""), ["notify"]);
  const again = await s.node.event((e) => e.type === "handler-started" && e.details.attempt === 2);
  t.deepEqual(again.details, { event: down.id, handler: "notify", attempt: 2, leader: "a", retry: true });
  const p3 = await s.spawner.process(3);
  t.deepEqual([p3.request.env.CONCLAVE_HANDLER, p3.request.env.CONCLAVE_ATTEMPT], ["notify", "2"]);
  p3.end(0);
  await outcomeOf(s, "handler-succeeded", 2);
  await drained();
  // Both pairs succeeded now: nothing to retry.
  t.deepEqual(s.runner.retry(down.id, ""), []);
  t.is(s.spawner.started.length, 3);
});
