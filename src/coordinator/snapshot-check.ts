/**
 * The full check of a snapshot received from a peer, before anything persists it: its
 * configuration names follow the one name rule (they are stored with a u16 length, and a
 * follower must be able to write its own next snapshot), and its data loads into a fresh
 * state machine. A snapshot that fails is refused whole, so a follower never writes state it
 * cannot load again (issue 11: a forged frame of non-JSON data once bricked an elector for
 * good, "snapshot at 1018 is not valid JSON" on every restart).
 *
 * Loading is the check, not a parallel one: whatever `restore` would throw on after the
 * write is what refuses the snapshot here, so the two can never disagree.
 */
import type { NodeId, Snapshot } from "../../raft/index.ts";
import { formatBytes, SNAPSHOT_MAX_BYTES } from "../contract/limits.ts";
import { nameProblem } from "../contract/names.ts";
import { CoordinatorState } from "./state-machine.ts";

/** What the check found: the snapshot may be persisted, or why not. */
export type SnapshotVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** Check `snap` fully (see the module comment). Never throws. */
export function checkSnapshot(snap: Snapshot, founders: ReadonlyMap<NodeId, string>): SnapshotVerdict {
  const { meta, data } = snap;
  if (data.length > SNAPSHOT_MAX_BYTES) {
    return {
      ok: false,
      reason: `snapshot at ${meta.index} is ${data.length} bytes; the limit is ${formatBytes(SNAPSHOT_MAX_BYTES)}`,
    };
  }
  for (const id of [...meta.conf.voters, ...meta.conf.learners]) {
    const p = nameProblem("elector", id);
    if (p !== null) return { ok: false, reason: `snapshot at ${meta.index}: its configuration names ${p}` };
  }
  try {
    new CoordinatorState(founders).restore(meta.index, data);
  } catch (e) {
    return { ok: false, reason: e instanceof Error ? e.message : String(e) };
  }
  return { ok: true };
}
