/**
 * The Node.js flags an agent runs with, by role, wherever Conclave starts one (`conclave dev`,
 * the systemd units, the benchmarks). They go on node's command line (`--lite-mode` is refused
 * in NODE_OPTIONS). Measured by `npm run bench:member-rss` and `npm run bench:raft`.
 */

/**
 * A member-only agent sends a heartbeat every 250 ms and runs a few checks, so memory matters
 * far more than JavaScript speed:
 * - `--max-semi-space-size=1`: a 1 MiB V8 young generation (the default is 16 MiB);
 * - `--lite-mode`: no optimizing compiler and leaner feedback vectors;
 * - `--no-expose-wasm`: lite mode turns WebAssembly off anyway (a member uses none); saying so
 *   keeps V8 from printing "disabling flag --expose_wasm" at every start.
 * The first two save about 8 MB of RSS each.
 */
export const MEMBER_V8_FLAGS: readonly string[] = [
  "--max-semi-space-size=1",
  "--lite-mode",
  "--no-expose-wasm",
];

/**
 * An elector (alone or with the member role) allocates a lot for a short while under write
 * load: an 8 MiB young generation instead of 16 MiB keeps a loaded elector about 25 MB
 * smaller (bench:raft: loaded RSS 135-138 MB instead of 160-172) at the same throughput.
 */
export const ELECTOR_V8_FLAGS: readonly string[] = ["--max-semi-space-size=8"];
