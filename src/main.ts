/**
 * Entry point of the `conclave` executable (bin/conclave loads the built copy of this).
 */
import { runAgent } from "./agent.ts";
import { runCli } from "./cli/cli.ts";
import { connectControl } from "./control/control-client.ts";
import { runDevCluster } from "./dev/dev-cluster.ts";

const code = await runCli(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
  connect: (o) => connectControl(o),
  runAgent,
  runDev: () => runDevCluster({ out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) }),
});
if (process.argv[2] === "agent" || process.argv[2] === "dev") {
  // Open gRPC channels and timers must not keep a stopped agent alive.
  process.exit(code);
}
process.exitCode = code;
