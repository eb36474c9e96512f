/**
 * Entry point of the `conclave` executable (bin/conclave loads the built copy of this).
 */
import { runAgent } from "./agent.ts";
import { runCli } from "./cli.ts";
import { connectControl } from "./control-client.ts";

const code = await runCli(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  env: process.env,
  connect: (o) => connectControl(o),
  runAgent,
});
if (process.argv[2] === "agent") {
  // Open gRPC channels and timers must not keep a stopped agent alive.
  process.exit(code);
}
process.exitCode = code;
