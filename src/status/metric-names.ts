/**
 * Every metric name Conclave exports, in one place: `/metrics` (node-metrics.ts) registers
 * them, deploy/prometheus/alerts.yaml and docs/status-and-metrics.md use them, and
 * test/package/prometheus-rules.test.ts checks that the alerts name only these. Also the
 * bucket bounds of each histogram. No imports: the observation points (latency.ts) load this
 * on a member that serves no `/metrics`.
 */

/** The name of every series, by what it measures. */
export const METRIC = {
  healthy: "conclave_healthy",

  // Elector gauges and counters, from the node's snapshot.
  raftTerm: "conclave_raft_term",
  raftCommitIndex: "conclave_raft_commit_index",
  raftAppliedIndex: "conclave_raft_applied_index",
  raftIsLeader: "conclave_raft_is_leader",
  raftHasLeader: "conclave_raft_has_leader",
  electorMatchIndex: "conclave_elector_match_index",
  electorReachable: "conclave_elector_reachable",
  members: "conclave_members",
  memberCheckPassing: "conclave_member_check_passing",
  serviceMaster: "conclave_service_master",
  eventsApplied: "conclave_events_applied_total",

  // Elector histograms, observed as things happen.
  storageFsyncDuration: "conclave_storage_fsync_duration_seconds",
  proposalCommitDuration: "conclave_proposal_commit_duration_seconds",
  applyDuration: "conclave_apply_duration_seconds",
  handlerRunDuration: "conclave_handler_run_duration_seconds",

  // Member gauges and counters, from the node's snapshot.
  memberConnected: "conclave_member_connected",
  memberReportsAcknowledged: "conclave_member_reports_acknowledged_total",
  checkPassing: "conclave_check_passing",
  serviceRole: "conclave_service_role",
  serviceRoleEpoch: "conclave_service_role_epoch",

  // Member histograms.
  memberReportRtt: "conclave_member_report_rtt_seconds",
} as const;

/** `count` bounds from `start`, each `factor` times the one before (Prometheus' ExponentialBuckets). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => Number((start * factor ** i).toPrecision(12)));
}

/**
 * Bucket bounds, in seconds, as etcd chooses them for the same kind of latency, so the
 * dashboards and alert thresholds of an etcd operator carry over.
 */
export const BUCKETS = {
  /** etcd's `etcd_disk_wal_fsync_duration_seconds`: 1 ms to 8.192 s. */
  fsync: exponentialBuckets(0.001, 2, 14),
  /** A commit takes at least one fsync on a quorum: the same 1 ms to 8.192 s. */
  commit: exponentialBuckets(0.001, 2, 14),
  /** etcd's `etcd_server_apply_duration_seconds`: 100 µs to about 52 s. */
  apply: exponentialBuckets(0.0001, 2, 20),
  /** Handlers run for milliseconds to minutes (their timeout): 10 ms to about 5.5 min. */
  handlerRun: exponentialBuckets(0.01, 2, 16),
  /** etcd's `etcd_network_peer_round_trip_time_seconds`: 100 µs to about 3.3 s. */
  reportRtt: exponentialBuckets(0.0001, 2, 16),
} as const;
