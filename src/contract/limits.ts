/**
 * Every size and count limit of Conclave, in one place (docs/limits.md lists each with the
 * error an operator sees). The edge (member report service, control API, peer transport)
 * refuses what exceeds them with a message naming the limit, and the state machine refuses
 * the same at apply time, so a command that slipped past an edge (an old proposer, a forged
 * entry) is skipped alike on every elector instead of growing the state without bound.
 *
 * Invariant: the values that the state machine checks (names, details, counts, kv) are part
 * of the replicated rules; every elector of a cluster must run with the same values, so they
 * are constants, not settings.
 */

/** Longest name (member, elector, service, check, handler), in bytes; names are ASCII. Widened from 63, so every name once accepted still loads. */
export const NAME_MAX_BYTES = 64;

/** Largest `details` of an event, as canonical JSON bytes. */
export const EVENT_DETAILS_MAX_BYTES = 16 * 1024;

/**
 * Largest `details` of the events the leader builds from bounded sources of its own
 * (`checks-updated`: the cluster-wide definitions; `handler-*`: the `covers` list of a
 * coalesced run and output tails), as canonical JSON bytes.
 */
export const LEADER_EVENT_DETAILS_MAX_BYTES = 256 * 1024;

/** Largest command a leader proposes (the encoded entry data), in bytes. */
export const PROPOSAL_MAX_BYTES = 1024 * 1024;

/** Most checks one member may report (its own and the cluster-wide ones together). */
export const CHECKS_PER_MEMBER_MAX = 64;

/** Most services one member may run. */
export const SERVICES_PER_MEMBER_MAX = 64;

/** Most cluster-wide check definitions (`conclave checks apply`). */
export const CLUSTER_CHECKS_MAX = CHECKS_PER_MEMBER_MAX;

/**
 * Most members that have not left (up, down or drained). Issue 14 runs 10,000 and measured
 * 20,000 members at a 1 s heartbeat; members that left do not count.
 */
export const MEMBERS_MAX = 20_000;

/** Longest address a member advertises (`host:port`): a DNS name is at most 253 bytes. */
export const MEMBER_ADDRESS_MAX_BYTES = 260;

/** Longest check detail a member report may carry; longer ones are cut, not refused. */
export const CHECK_DETAIL_MAX_BYTES = 1024;

/** Longest kv key, in bytes: keys are short names, not data. */
export const KV_MAX_KEY_BYTES = 1024;

/** Largest kv value, in bytes (docs/cli.md: values up to 64 KiB). */
export const KV_MAX_VALUE_BYTES = 64 * 1024;

/**
 * The kv quota: the most bytes of keys and values stored together. Past it a put that would
 * grow the store is refused (RESOURCE_EXHAUSTED); deletes and puts that do not grow it still
 * work, so an operator can always make room (etcd's NOSPACE stance).
 */
export const KV_QUOTA_BYTES = 64 * 1024 * 1024;

/** Most concurrent gRPC streams on one connection (issue 14's generator runs 50 members per channel). */
export const GRPC_MAX_CONCURRENT_STREAMS = 128;

/** Largest snapshot data a follower accepts from a peer, in bytes (it is held in memory whole). */
export const SNAPSHOT_MAX_BYTES = 512 * 1024 * 1024;

/**
 * The most a peer stream allocates for a snapshot before its data arrives: the buffer starts
 * at most this big and grows with the chunks received, so a peer that announces 512 MiB and
 * sends nothing costs this much, not 512 MiB.
 */
export const SNAPSHOT_PREALLOC_MAX_BYTES = 4 * 1024 * 1024;

/** Binary byte counts as the limits' messages write them: `16 KiB`, `1 MiB`. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}
