/**
 * Raft paper, Figure 3 (the properties Figure 2's rules guarantee), checked over seeded random
 * schedules: messages reordered, dropped and duplicated; nodes crashing before or after
 * persisting a Ready; partitions; membership changes; snapshots; transfers; reads.
 *
 * - Election Safety: at most one leader per term.
 * - State Machine Safety: no two nodes apply different entries at the same index.
 * - Linearizable reads: a ReadState's index is at least every commit persisted anywhere
 *   before the read was requested.
 * And, once faults stop, the cluster elects a leader and commits a new entry everywhere.
 *
 * Every schedule derives from a SeededRng seed, so a failure names a reproducible seed.
 */
import test from "ava";
import {
  ConfChangeRefusedError,
  type Entry,
  LeaderTransferringError,
  NotLeaderError,
  RaftUsageError,
  SeededRng,
} from "../../raft/index.ts";
import { Cluster, dec, enc, type TestNode } from "./helpers.ts";

const IDS = ["a", "b", "c", "d", "e"];

function key(e: Entry): string {
  return `${e.term}|${e.type}|${dec(e.data)}`;
}

/** The running leader of the highest term (stale leaders of older terms may linger). */
function topLeader(c: Cluster): TestNode | undefined {
  return c.leaders().sort((x, y) => y.term - x.term)[0];
}

function isExpectedRefusal(e: unknown): boolean {
  return (
    e instanceof NotLeaderError ||
    e instanceof LeaderTransferringError ||
    e instanceof ConfChangeRefusedError ||
    (e instanceof RaftUsageError && /not a voter/.test(e.message))
  );
}

/** Runs one schedule; throws with the seed on the first broken property. */
function run(
  seed: number,
  steps: number,
  voters: readonly string[],
  opts: { preVote: boolean; checkQuorum: boolean },
) {
  const rng = new SeededRng(seed);
  const c = new Cluster({
    voters,
    joiners: IDS.filter((x) => !voters.includes(x)),
    seed,
    tuning: {
      electionTick: 6 + rng.int(6),
      heartbeatTick: 1 + rng.int(2),
      maxInflightMsgs: 1 + rng.int(3),
      maxSizePerMsg: 40 + rng.int(60),
      maxInflightBytes: rng.chance(0.3) ? 100 : 0,
      maxCommittedSizePerReady: rng.chance(0.3) ? 30 : 1 << 20,
      ...opts,
    },
  });
  const fail = (what: string) => new Error(`seed ${seed} ${JSON.stringify(opts)}: ${what}`);
  const appliedAt = new Map<number, string>();
  const leaderOf = new Map<number, string>();
  const seen = new Map<string, number>();
  const reads = new Map<string, number>();
  let partition: (() => void) | null = null;
  let proposals = 0;

  const check = () => {
    for (const n of c.nodes.values()) {
      for (const rs of n.readStates) {
        const need = reads.get(rs.context);
        if (need !== undefined && rs.index < need)
          throw fail(`stale read ${rs.context}: ${rs.index} < ${need}`);
      }
      if (!n.running) continue;
      const st = n.status();
      if (st.role === "leader") {
        const other = leaderOf.get(st.term);
        if (other !== undefined && other !== n.id)
          throw fail(`${other} and ${n.id} both lead term ${st.term}`);
        leaderOf.set(st.term, n.id);
      }
      for (let k = seen.get(n.id) ?? 0; k < n.applied.length; k++) {
        const e = n.applied[k]!;
        const prev = appliedAt.get(e.index);
        if (prev !== undefined && prev !== key(e))
          throw fail(`index ${e.index}: ${prev} vs ${key(e)} on ${n.id}`);
        appliedAt.set(e.index, key(e));
      }
      seen.set(n.id, n.applied.length);
    }
  };

  for (let s = 0; s < steps; s++) {
    const r = rng.next();
    const id = rng.pick(IDS);
    const n = c.node(id);
    try {
      if (r < 0.3) {
        for (const x of c.nodes.values()) if (x.running && rng.chance(0.5)) x.tick();
      } else if (r < 0.6) {
        if (c.queue.length > 0) {
          const [m] = c.queue.splice(rng.int(c.queue.length), 1);
          if (rng.chance(0.05)) c.queue.push(m!); // duplicate
          if (!rng.chance(0.1)) c.deliver(m!); // or drop
        }
      } else if (r < 0.7) {
        const leaders = c.leaders();
        if (leaders.length > 0) rng.pick(leaders).raw.propose(enc(`p${proposals++}`));
      } else if (r < 0.705) {
        if (partition) {
          partition();
          partition = null;
        } else partition = c.isolate(id);
      } else if (r < 0.72) {
        if (n.running) {
          // crash, either before or after persisting the pending Ready (messages unsent)
          if (rng.chance(0.5)) {
            n.processReady();
            n.outbox = [];
          }
          n.running = false;
        } else {
          c.restart(id);
          seen.set(id, 0);
        }
      } else if (r < 0.73) {
        if (n.running && n.role === "leader") {
          const target = rng.pick(IDS);
          const conf = n.status().conf;
          if (conf.voters.includes(target)) {
            if (conf.voters.length > 2) n.raw.proposeConfChange({ type: "remove", node: target });
          } else if (conf.learners.includes(target))
            n.raw.proposeConfChange({ type: "promote", node: target });
          else n.raw.proposeConfChange({ type: "add-learner", node: target });
        }
      } else if (r < 0.735) {
        if (n.running && n.role === "leader") n.raw.transferLeader(rng.pick(n.status().conf.voters));
      } else if (r < 0.745) {
        const applied = n.status().applied;
        if (n.running && applied > n.storage.firstIndex()) {
          n.storage.createSnapshot(applied, n.raw.confAt(applied), enc(`snap@${applied}`));
        }
      } else if (r < 0.78) {
        if (n.running) {
          const commit = Math.max(...[...c.nodes.values()].map((x) => x.storage.hardState().commit));
          reads.set(`r${s}`, commit);
          n.raw.readIndex(`r${s}`);
        }
      }
      for (const x of c.nodes.values()) {
        if (!x.running || !rng.chance(0.7)) continue;
        while (x.processReady()) {}
        c.queue.push(...x.outbox);
        x.outbox = [];
      }
    } catch (e) {
      if (isExpectedRefusal(e)) continue;
      throw fail(`step ${s}: ${(e as Error).stack}`);
    }
    check();
  }

  // Faults stop: everyone restarts, the network heals; a leader must emerge and commit.
  partition?.();
  c.heal();
  for (const id of IDS) {
    if (!c.node(id).running) {
      c.restart(id);
      seen.set(id, 0);
    }
  }
  for (let attempt = 0; ; attempt++) {
    if (attempt > 15) throw fail("no leader committed a new entry on every member after faults stopped");
    const leader = topLeader(c);
    try {
      if (leader) c.propose(leader.id, `final${attempt}`);
    } catch (e) {
      if (!isExpectedRefusal(e)) throw e;
    }
    c.tick(30);
    check();
    const l = topLeader(c);
    if (!l) continue;
    const { voters: v, learners } = l.status().conf;
    if ([...v, ...learners].every((m) => c.node(m).applied.some((e) => dec(e.data).startsWith("final"))))
      break;
  }
  return { proposals, terms: leaderOf.size, applied: appliedAt.size };
}

const CONFIGS = [
  { preVote: true, checkQuorum: true },
  { preVote: false, checkQuorum: false },
  { preVote: true, checkQuorum: false },
];

for (const voters of [
  ["a", "b", "c"],
  ["a", "b", "c", "d", "e"],
]) {
  test(`Figure 3 properties hold over seeded random schedules (${voters.length} founders)`, (t) => {
    let proposals = 0;
    let elections = 0;
    let applied = 0;
    for (let seed = 1; seed <= 50; seed++) {
      for (const opts of CONFIGS) {
        const r = run(seed, 4000, voters, opts);
        proposals += r.proposals;
        elections += r.terms;
        applied += r.applied;
      }
    }
    // the schedules did exercise the protocol
    t.true(proposals > 2000, `${proposals} proposals`);
    t.true(elections > 200, `${elections} leader terms`);
    t.true(applied > 1000, `${applied} indexes applied`);
  });
}
