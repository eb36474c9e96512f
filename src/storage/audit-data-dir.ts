/**
 * Offline audit of an elector's data dir (`conclave audit verify --data-dir DIR`): rebuild
 * the event log exactly as the elector would — restore the snapshot (whose stored event
 * hashes are checked link by link) and replay every committed entry — then verify the
 * chain. Because replay recomputes hashes, an entry altered after the snapshot yields a
 * different but self-consistent chain; comparing it with the cluster's committed chain
 * (see {@link firstDivergence}) names the first altered event.
 */
import type { Event } from "../contract/events.ts";
import { type ChainVerdict, verifyChain } from "../coordinator/event-chain.ts";
import { BadEventLogSnapshotError } from "../coordinator/event-log-snapshot.ts";
import { LevelLogStore } from "./log-store-level.ts";
import { CoordinatorState } from "../coordinator/state-machine.ts";

/** The result of rebuilding a data dir's event log. */
export type DataDirAudit =
  | {
      readonly kind: "rebuilt";
      readonly events: readonly Event[];
      readonly verdict: ChainVerdict;
      readonly commit: number;
    }
  /** The snapshot's stored chain is broken: `message` names the event. */
  | { readonly kind: "snapshot-broken"; readonly message: string };

/**
 * Rebuild the event log from the data dir `dir` (it must not be in use by a running agent).
 * @throws DataDirCorruptError / DataDirLockedError from the store, naming the dir.
 */
export async function auditDataDir(dir: string): Promise<DataDirAudit> {
  const store = await LevelLogStore.open({ dir });
  try {
    const state = new CoordinatorState();
    const snap = store.snapshot();
    try {
      state.restore(snap.meta.index, snap.data);
    } catch (e) {
      if (e instanceof BadEventLogSnapshotError) return { kind: "snapshot-broken", message: e.message };
      throw e;
    }
    const commit = store.hardState().commit;
    const first = store.firstIndex();
    if (commit >= first) {
      for (const entry of store.entries(first, commit + 1, Number.POSITIVE_INFINITY)) state.apply(entry);
    }
    const anchor = state.events.anchor;
    const events = state.events.since(anchor.id);
    return { kind: "rebuilt", events, verdict: verifyChain(events, anchor), commit };
  } finally {
    await store.close();
  }
}

/**
 * The first event of `local` whose hash differs from the cluster's event with the same id
 * (`cluster` maps id to hash), or null when every event the cluster knows agrees.
 */
export function firstDivergence(
  local: readonly Event[],
  cluster: ReadonlyMap<number, string>,
): { id: number; local: string; cluster: string } | null {
  for (const e of local) {
    const h = cluster.get(e.id);
    if (h !== undefined && h !== e.hash) return { id: e.id, local: e.hash, cluster: h };
  }
  return null;
}
