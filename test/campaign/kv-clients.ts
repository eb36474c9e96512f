/**
 * The kv workload: a few clients, each doing one get, put or delete at a time on a few keys,
 * on an elector the seeded generator picks for each operation, recording every call in the
 * history (kv-history.ts). A write with no answer is of unknown outcome (it may yet take
 * effect), and its client takes a new name for what it does next, as Jepsen's processes do;
 * a get with no answer shows nothing.
 */
import type { ControlApi } from "../../src/control/control-types.ts";
import type { ProcessCluster } from "../support/process-cluster.ts";
import { type KvCompletion, KvHistoryRecorder } from "./kv-history.ts";
import type { Prng } from "./prng.ts";

/** Options of {@link startKvClients}. */
export interface KvWorkload {
  readonly cluster: ProcessCluster;
  readonly electors: readonly string[];
  readonly prng: Prng;
  readonly clients?: number;
  readonly keys?: readonly string[];
  /** Deadline of one call (ms). */
  readonly timeoutMs?: number;
}

/** Running clients: stop them and take the history. */
export interface KvRun {
  readonly recorder: KvHistoryRecorder;
  /** Stop issuing operations; resolves once every client has its last answer (or gave up). */
  stop(): Promise<void>;
}

/** Start the clients. */
export function startKvClients(w: KvWorkload): KvRun {
  const recorder = new KvHistoryRecorder();
  const keys = w.keys ?? ["k0", "k1", "k2"];
  let stopping = false;
  const loops: Promise<void>[] = [];
  for (let i = 0; i < (w.clients ?? 3); i++) {
    const prng = w.prng.fork(`kv-client-${i}`);
    const apis = new Map<string, ControlApi>();
    const api = (e: string) => {
      let a = apis.get(e);
      if (!a) {
        a = w.cluster.client(e, w.timeoutMs ?? 2000);
        apis.set(e, a);
      }
      return a;
    };
    loops.push(
      (async () => {
        let incarnation = 0;
        let n = 0;
        while (!stopping) {
          const client = `c${i}.${incarnation}`;
          const key = prng.pick(keys);
          const roll = prng.next();
          const target = api(prng.pick(w.electors));
          let lost = false;
          if (roll < 0.5) {
            const done = recorder.invoke({ client, key, kind: "get" });
            try {
              const r = await target.kvGet(key);
              done({ outcome: "ok", result: r.found ? r.value : null });
            } catch {
              done({ outcome: "failed" });
            }
          } else {
            const put = roll < 0.85;
            const value = `${client}-${n++}`;
            const done = put
              ? recorder.invoke({ client, key, kind: "put", value })
              : recorder.invoke({ client, key, kind: "delete" });
            let c: KvCompletion;
            try {
              if (put) await target.kvPut(key, value);
              else await target.kvDelete(key);
              c = { outcome: "ok" };
            } catch {
              c = { outcome: "unknown" };
              lost = true;
            }
            done(c);
          }
          if (lost) incarnation++;
          await new Promise((r) => setTimeout(r, prng.int(20, 80)));
        }
        for (const a of apis.values()) a.close();
      })(),
    );
  }
  return {
    recorder,
    stop: async () => {
      stopping = true;
      await Promise.all(loops);
    },
  };
}
