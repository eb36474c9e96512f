/**
 * Conclave's Raft library: a pure, deterministic consensus state machine.
 * No I/O, timers, clocks or global random source: time is ticks, randomness is injected.
 */
export { applyConfChange, confChangeProblem, decodeConfChange, encodeConfChange } from "./conf-change.ts";
export * from "./errors.ts";
export { committedIndex, disjointMajoritiesPossible, majority, voteResult } from "./quorum.ts";
export type { PeerStatus, RaftOptions, RaftStatus } from "./raft.ts";
export { RawNode } from "./raw-node.ts";
export { type Rng, SeededRng } from "./rng.ts";
export { bootstrapState, type Storage } from "./storage.ts";
export { MemoryStorage, type MemoryStorageOptions } from "./storage-memory.ts";
export * from "./types.ts";
