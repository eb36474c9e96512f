/**
 * Entry point of the `conclave` executable (bin/conclave loads the built copy of this).
 */
import { runAgent } from "./agent.ts";
import { writerUntilReaderGone } from "./cli/broken-pipe.ts";
import { runCli } from "./cli/cli.ts";
import { connectControl } from "./control/control-client.ts";
import { runDevCluster } from "./dev/dev-cluster.ts";

const command = process.argv[2];
const longRunning = command === "agent" || command === "dev";

/**
 * The reader of stdout went away (`conclave events | head -1`): a client command ends at once,
 * quietly, with exit 0, as git and etcdctl do. `dev` stops its cluster as on SIGTERM. An agent
 * keeps running: it writes its logs to fd 1 directly, not through process.stdout.
 */
function stdoutReaderGone(): void {
  if (command === "dev") process.kill(process.pid, "SIGTERM");
  else if (!longRunning) process.exit(0);
}

const out = writerUntilReaderGone(process.stdout, stdoutReaderGone);
// With stderr's reader gone too there is no one left to tell: its writes are dropped.
const err = writerUntilReaderGone(process.stderr, () => {});

const code = await runCli(process.argv.slice(2), {
  out,
  err,
  env: process.env,
  connect: (o) => connectControl(o),
  runAgent,
  runDev: () => runDevCluster({ out, err }),
});
if (longRunning) {
  // Open gRPC channels and timers must not keep a stopped agent alive.
  process.exit(code);
}
process.exitCode = code;
