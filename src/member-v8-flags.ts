/**
 * The Node.js flags a member-only agent runs with, wherever Conclave starts one (`conclave
 * dev`, the member systemd unit, the benchmarks): a member sends a heartbeat every 250 ms and
 * runs a few checks, so memory matters far more than JavaScript speed.
 * - `--max-semi-space-size=1`: a 1 MiB V8 young generation (the default is 16 MiB);
 * - `--lite-mode`: no optimizing compiler and leaner feedback vectors;
 * - `--no-expose-wasm`: lite mode turns WebAssembly off anyway (a member uses none); saying so
 *   keeps V8 from printing "disabling flag --expose_wasm" at every start.
 * Measured by `npm run bench:member-rss` (each saves about 8 MB of RSS). `--lite-mode` is not
 * accepted in NODE_OPTIONS, so these go on node's command line.
 */
export const MEMBER_V8_FLAGS: readonly string[] = [
  "--max-semi-space-size=1",
  "--lite-mode",
  "--no-expose-wasm",
];
