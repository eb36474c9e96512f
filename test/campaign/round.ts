/**
 * One round of the campaign: a fresh ProcessCluster (3 electors, 4 members on loopback), a
 * master service `db` on every member whose promote / demote scripts stamp CLOCK_MONOTONIC and
 * the epoch, an HTTP check per member against the campaign's check server, the recorder handler
 * (`concurrency: 1` on member-down, member-up, check-failing, check-passing), kv clients, and
 * the seeded nemesis. After the fault phase every fault heals, the round waits for convergence,
 * reads every elector's log, audit, the runs and the scripts' records, and runs the checkers.
 * With `netns` (netns-round.ts) every node runs in its own network namespace, BIND9 in another,
 * the electors also run the DNS handler, the nemesis also partitions, drops and slows the
 * network, and the DNS checker (check-dns.ts) judges what `dig` answered through the round.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ControlApi } from "../../src/control/control-types.ts";
import { ProcessCluster } from "../support/process-cluster.ts";
import { readRecords, stamp, writeService } from "../support/service-fixtures.ts";
import type { CampaignEvent } from "./campaign-event.ts";
import { checkExactlyOnce } from "./check-exactly-once.ts";
import { checkKv } from "./check-kv.ts";
import { checkMasters } from "./check-masters.ts";
import { checkMemberDown } from "./check-member-down.ts";
import { checkOneLog, type ElectorLog } from "./check-one-log.ts";
import { CheckServer } from "./check-server.ts";
import { checkTruth } from "./check-truth.ts";
import { startKvClients } from "./kv-clients.ts";
import { runNemesis } from "./nemesis.ts";
import { type NetnsFault, planRound, type ProcessFault } from "./nemesis-plan.ts";
import { checkDns } from "./check-dns.ts";
import { NetnsEnv } from "./netns-round.ts";
import { Prng } from "./prng.ts";
import { readRuns, writeRecorder } from "./recorder.ts";
import { BUG_MODES, campaignBug } from "./bug-modes.ts";
import type { CheckerVerdict } from "./verdict.ts";

export const ELECTORS = ["e1", "e2", "e3"] as const;
export const MEMBERS = ["m1", "m2", "m3", "m4"] as const;
const SERVICE = "db";
const CHECK = "app";
const HANDLER = "recorder";
const HANDLER_ON = ["member-down", "member-up", "check-failing", "check-passing"] as const;
/** The cluster's timing (the documented defaults but a shorter master lease). */
const TIMING = {
  raftHeartbeat: "100ms",
  electionTimeout: "1000ms",
  heartbeat: "250ms",
  memberTimeout: "1500ms",
  masterLease: "2s",
} as const;
const MEMBER_TIMEOUT_MS = 1500;
/** Convergence: give up after this long without a new handler outcome, or this long in all. */
const CONVERGE_QUIET_MS = 45_000;
const CONVERGE_CAP_MS = 240_000;

/** Options of one round. */
export interface RoundOptions {
  readonly seed: number;
  /** Netns fault kinds only with `netns`. */
  readonly faults: readonly (ProcessFault | NetnsFault)[];
  /**
   * Run in network namespaces (netns-round.ts, root only): every node in its own namespace,
   * BIND9 in another, the DNS handler on the electors and the DNS checker.
   */
  readonly netns?: boolean;
  /** Length of the fault phase. */
  readonly seconds: number;
  /** Where to keep the round's records when a checker finds a violation. */
  readonly keepDir?: string;
  readonly log?: (line: string) => void;
}

/** What one round found. */
export interface RoundResult {
  readonly seed: number;
  readonly faults: string[];
  readonly faultCounts: Record<string, number>;
  readonly verdicts: CheckerVerdict[];
  /** From the heal to convergence (ms), or null when it did not converge. */
  readonly convergeMs: number | null;
  /** From each fault of the leader to the next leader-elected (ms). */
  readonly failoverMs: number[];
  /** duration_ms of every recorder run the log recorded an outcome for. */
  readonly handlerMs: number[];
  readonly inRun: { hit: number; miss: number };
  readonly wallMs: number;
  /** Where the records were kept (only on a violation). */
  readonly kept: string | null;
  /** Netns rounds: the DNS checker's figures (check-dns.ts). */
  readonly dns?: { readonly convergeMs: number | null; readonly removalMs: number[] };
}

/** The DNS checker's bounds (check-dns.ts says what B covers). */
export const DNS_BOUND_MS = 10_000;
export const DNS_SETTLE_MS = 30_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Poll `fn` every 200 ms until it gives a value; undefined after `ms`. */
async function poll<T>(
  ms: number,
  fn: () => Promise<T | undefined>,
  onError: (e: unknown) => void = () => {},
): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      onError(e); // not yet
    }
    await sleep(200);
  }
  return undefined;
}

async function readEvents(api: ControlApi): Promise<CampaignEvent[]> {
  return (await api.events(0, "", 10_000)).eventsJson.map((j) => JSON.parse(j) as CampaignEvent);
}

/** Run one round. */
export async function runRound(o: RoundOptions): Promise<RoundResult> {
  const started = Date.now();
  const log = o.log ?? (() => {});
  const prng = new Prng(o.seed);
  const env = o.netns ? new NetnsEnv([...ELECTORS, ...MEMBERS]) : null;
  if (env) log(`netns: ${env.net.describe()}`);
  const checks = await CheckServer.start(env?.gateway);
  const c = await ProcessCluster.create({
    names: ELECTORS,
    members: MEMBERS,
    logLevel: "warn",
    ...TIMING,
    // A --bug mode may need another timing (bug-modes.ts); the nodes get the switch from the env.
    ...(campaignBug() ? BUG_MODES[campaignBug()!].timing : {}),
    ...(env ? env.clusterOptions([...ELECTORS, ...MEMBERS]) : {}),
  });
  const apis: ControlApi[] = [];
  const api = (e: string) => {
    const a = c.client(e, 3000);
    apis.push(a);
    return a;
  };
  try {
    stamp(); // compile the scripts' stamp program before anything runs
    // A --bug mode (bug-modes.ts; the nodes have the switch) may need longer recorder runs.
    const bug = campaignBug();
    const recorder = writeRecorder(
      c.dir,
      ...(bug && BUG_MODES[bug].recorderTicks ? [BUG_MODES[bug].recorderTicks] : []),
    );
    const scriptsLog = join(c.dir, "scripts.log");
    for (const m of MEMBERS) {
      const dir = join(c.dir, m, "services");
      writeService({ member: m, service: SERVICE, servicesDir: dir, log: scriptsLog });
      c.setMemberExtra(
        m,
        [
          `services_dir: ${dir}`,
          "checks:",
          `  - { name: ${CHECK}, type: http, url: "${checks.url(m)}", interval: 200ms, timeout: 1s, fall: 2, rise: 2 }`,
        ].join("\n"),
      );
    }
    c.setElectorExtra(
      [
        "handlers:",
        `  - name: ${HANDLER}`,
        `    on: [${HANDLER_ON.join(", ")}]`,
        `    run: ${recorder.script}`,
        "    timeout: 20s",
        "    retries: 10",
        "    concurrency: 1",
        ...(env ? env.handlerLines(c.dir, CHECK) : []),
      ].join("\n"),
    );
    if (env) await env.startNamed();
    c.startAll();
    await c.waitForLeader(60_000);
    const watch = ELECTORS.map(api);
    const first = async <T>(fn: (a: ControlApi) => Promise<T>): Promise<T> => {
      let last: unknown;
      for (const a of watch) {
        try {
          return await fn(a);
        } catch (e) {
          last = e;
        }
      }
      throw last;
    };
    const upAt = Date.now();
    const ready = await poll(60_000, async () => {
      const { members } = await first((a) => a.members());
      const ok =
        MEMBERS.every((n) => {
          const m = members.find((x) => x.name === n);
          return m?.status === "up" && m.checks[CHECK] === "passing";
        }) && members.some((m) => m.services[SERVICE]?.master);
      return ok ? true : undefined;
    });
    if (!ready) throw new Error("the cluster did not come up (members up, checks passing, a master) in 60 s");
    if (env) {
      env.startSampling();
      const all = Object.values(env.addressOf(MEMBERS));
      if (!(await env.waitStable(all, 500, Date.now() + 60_000)))
        throw new Error(
          `DNS did not list every member in 60 s (last answer: ${JSON.stringify(env.samples.at(-1)?.addrs)})`,
        );
    }
    if (process.env.CAMPAIGN_DEBUG === "1")
      log(
        `cluster ready ${Date.now() - started} ms after the round began (leader after ${upAt - started} ms)`,
      );
    // Event times are wall clock; the checkers need them on the monotonic clock.
    const offsetNs = BigInt(Date.now()) * 1_000_000n - process.hrtime.bigint();

    const plan = planRound(prng.fork("nemesis"), {
      faults: o.faults,
      seconds: o.seconds,
      electors: ELECTORS,
      members: MEMBERS,
      // A --bug mode may draw the faults that provoke its bug more often (bug-modes.ts).
      ...(bug && BUG_MODES[bug].weights ? { weights: BUG_MODES[bug].weights } : {}),
    });
    const kv = startKvClients({ cluster: c, electors: ELECTORS, prng: prng.fork("kv") });
    const report = await runNemesis(
      {
        cluster: c,
        checks,
        electors: ELECTORS,
        members: MEMBERS,
        runsLog: recorder.log,
        checkName: CHECK,
        ...(env ? { net: env.net } : {}),
      },
      plan,
    );
    const healed = Date.now();
    await kv.stop();

    // Convergence: one leader everyone knows and has applied up to; every member up and passing;
    // every recorder pair with an outcome; a master whose promote has finished.
    let waitingOn = "";
    const debug = process.env.CAMPAIGN_DEBUG === "1";
    const why = (w: string) => {
      if (debug && w !== waitingOn) log(`converge: waiting on ${w} (${Date.now() - healed} ms)`);
      waitingOn = w;
      return undefined;
    };
    // Handler runs drain one at a time (concurrency: 1): the wait lasts while they progress.
    let outcomes = -1;
    let quietUntil = Date.now() + CONVERGE_QUIET_MS;
    const capAt = Date.now() + CONVERGE_CAP_MS;
    const converged = await poll(
      CONVERGE_CAP_MS,
      async () => {
        if (Date.now() > Math.min(quietUntil, capAt)) return -1;
        const statuses = await Promise.all(watch.map((a) => a.status(true)));
        const leaders = new Set(statuses.map((s) => s.leader));
        if (leaders.size !== 1 || statuses[0]!.leader === "") return why("one leader");
        if (new Set(statuses.map((s) => s.applied)).size !== 1) return why("equal applied");
        const { members } = await first((a) => a.members());
        const allUp = MEMBERS.every((n) => {
          const m = members.find((x) => x.name === n);
          return m?.status === "up" && m.checks[CHECK] === "passing";
        });
        if (!allUp)
          return why(
            `members up and passing: ${JSON.stringify(members.map((m) => [m.name, m.status, m.checks[CHECK]]))}`,
          );
        const master = members.find((m) => m.services[SERVICE]?.master);
        if (!master) return why("a master");
        const epoch = master.services[SERVICE]!.epoch;
        const promoted = readRecords(scriptsLog).some(
          (r) => r.member === master.name && r.script === "promote" && r.phase === "end" && r.epoch === epoch,
        );
        if (!promoted) return why(`${master.name}'s promote at epoch ${epoch}`);
        const events = await first(readEvents);
        const subscribed = events.filter((e) => (HANDLER_ON as readonly string[]).includes(e.type));
        const ended = events.filter(
          (e) =>
            (e.type === "handler-succeeded" || e.type === "handler-failed") && e.details.handler === HANDLER,
        );
        if (ended.length > outcomes) {
          outcomes = ended.length;
          quietUntil = Date.now() + CONVERGE_QUIET_MS;
        }
        const done = subscribed.every((s) => ended.some((e) => e.details.event === s.id));
        return done ? Date.now() - healed : why(`handler outcomes (${subscribed.length} events)`);
      },
      (e) => why(`an answer: ${e instanceof Error ? e.message : String(e)}`),
    );
    const convergedMs = converged === undefined || converged < 0 ? null : converged;
    let dns: ReturnType<typeof checkDns> | null = null;
    if (env) {
      // Sample on until the records have been stable for 3 s (or the settle bound has passed).
      const all = Object.values(env.addressOf(MEMBERS));
      await env.waitStable(all, 3000, Math.max(Date.now() + 3500, healed + DNS_SETTLE_MS + 3500));
      await env.stopSampling();
      const healedNs = process.hrtime.bigint() - BigInt(Date.now() - healed) * 1_000_000n;
      dns = checkDns({
        members: MEMBERS,
        addressOf: env.addressOf(MEMBERS),
        samples: env.samples,
        transitions: checks.transitions,
        faults: report.windows.filter((w) => !report.netWindows.includes(w)),
        healedAt: healedNs,
        boundMs: DNS_BOUND_MS,
        settleMs: DNS_SETTLE_MS,
      });
    }
    // Settle: let the last applies land everywhere before reading each log.
    await sleep(500);

    const logs: ElectorLog[] = [];
    for (const [i, e] of ELECTORS.entries()) {
      const a = watch[i]!;
      let events: CampaignEvent[] = [];
      let audit: ElectorLog["audit"];
      try {
        events = await readEvents(a);
        const v = await a.auditVerify();
        audit = { ok: v.ok, checked: v.checked, reason: v.reason };
      } catch (err) {
        audit = { error: err instanceof Error ? err.message : String(err) };
      }
      logs.push({ elector: e, events, audit });
    }
    let events: readonly CampaignEvent[] = [];
    for (const l of logs) if (l.events.length > events.length) events = l.events;
    const runs = readRuns(recorder.log);
    const records = readRecords(scriptsLog);
    const history = kv.recorder.history();
    const verdicts: CheckerVerdict[] = [
      checkExactlyOnce({ handler: HANDLER, on: HANDLER_ON, runs, events }),
      checkMasters({ service: SERVICE, records, events }),
      checkOneLog(logs),
      checkMemberDown({
        members: MEMBERS,
        faults: report.windows,
        events,
        offsetNs,
        memberTimeoutMs: MEMBER_TIMEOUT_MS,
      }),
      checkKv(history),
      checkTruth({ check: CHECK, transitions: checks.transitions, events, faults: report.windows, offsetNs }),
      {
        checker: "converge",
        count: convergedMs === null ? 0 : 1,
        violations:
          convergedMs === null
            ? [
                {
                  what: `the cluster did not converge after the heal (no progress for ${CONVERGE_QUIET_MS / 1000} s, or ${CONVERGE_CAP_MS / 1000} s in all); last waiting on ${waitingOn || "nothing known"}`,
                  evidence: [],
                },
              ]
            : [],
      },
      ...(dns ? [dns.verdict] : []),
    ];
    const at = (e: CampaignEvent) => BigInt(Date.parse(e.time)) * 1_000_000n - offsetNs;
    const elections = events.filter((e) => e.type === "leader-elected").map(at);
    const failoverMs = report.leaderFaults.flatMap((t) => {
      const next = elections.find((x) => x > t);
      return next === undefined ? [] : [Number((next - t) / 1_000_000n)];
    });
    let kept: string | null = null;
    if (verdicts.some((v) => v.violations.length > 0)) {
      kept = join(o.keepDir ?? tmpdir(), `conclave-campaign-round-${o.seed}-${Date.now()}`);
      mkdirSync(kept, { recursive: true });
      for (const l of logs)
        writeFileSync(
          join(kept, `events-${l.elector}.ndjson`),
          l.events.map((e) => JSON.stringify(e)).join("\n"),
        );
      writeFileSync(
        join(kept, "runs.json"),
        JSON.stringify(runs, (_k, v) => (typeof v === "bigint" ? String(v) : v), 1),
      );
      writeFileSync(
        join(kept, "scripts.json"),
        JSON.stringify(records, (_k, v) => (typeof v === "bigint" ? String(v) : v), 1),
      );
      writeFileSync(
        join(kept, "faults.json"),
        JSON.stringify(report, (_k, v) => (typeof v === "bigint" ? String(v) : v), 1),
      );
      writeFileSync(
        join(kept, "kv-history.json"),
        JSON.stringify(history, (_k, v) => (v === Infinity ? "Infinity" : v), 1),
      );
      for (const n of c.nodes.values()) writeFileSync(join(kept, `${n.name}.log`), n.output);
      if (env) {
        writeFileSync(join(kept, "named.log"), env.namedLog());
        writeFileSync(
          join(kept, "dns-samples.json"),
          JSON.stringify(
            { addressOf: env.addressOf(MEMBERS), samples: env.samples },
            (_k, v) => (typeof v === "bigint" ? String(v) : v),
            1,
          ),
        );
      }
    }
    return {
      seed: o.seed,
      faults: report.done,
      faultCounts: report.counts,
      verdicts,
      convergeMs: convergedMs,
      failoverMs,
      handlerMs: events
        .filter(
          (e) =>
            (e.type === "handler-succeeded" || e.type === "handler-failed") && e.details.handler === HANDLER,
        )
        .map((e) => Number(e.details.duration_ms))
        .filter((n) => Number.isFinite(n)),
      inRun: report.inRun,
      wallMs: Date.now() - started,
      kept,
      ...(dns ? { dns: { convergeMs: dns.convergeMs, removalMs: dns.removalMs } } : {}),
    };
  } finally {
    for (const a of apis) a.close();
    await c.destroy().catch(() => {});
    await checks.close();
    await env?.destroy();
  }
}
