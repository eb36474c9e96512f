/**
 * `conclave handlers test`: a dry run here gives the handler exactly the environment and the
 * standard input the leader gave a real run of the same committed event (field by field, bar
 * CONCLAVE_DRY_RUN), records nothing in the log, and prints the exit code and the output;
 * without `--event`, a synthetic event; an unknown handler or event is a usage error.
 */
import { chmodSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { HANDLER_ENV_NAMES } from "../../src/contract/handler-env.ts";
import { clusterUp, eventsAfter as events, handlerYaml, until } from "../support/cluster-wait.ts";
import { conclave } from "../support/run-conclave.ts";

/** The handler contract's variables in an `env` dump, by name. */
function conclaveVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^(CONCLAVE_[A-Z_]+)=(.*)$/.exec(line);
    if (m && (HANDLER_ENV_NAMES as readonly string[]).includes(m[1]!)) vars[m[1]!] = m[2]!;
  }
  return vars;
}

test.serial(
  "handlers test gives the environment and stdin of a real run of that event, and records nothing",
  async (t) => {
    let h = "";
    const { c, api } = await clusterUp(
      t,
      { names: ["e1", "e2", "e3"], members: ["m1", "m2"], logLevel: "warn" },
      {
        prepare: (c) => {
          h = join(c.dir, "record");
          // Real runs and dry runs write to different files; the dry run also says hello and fails.
          writeFileSync(
            h,
            `#!/bin/sh
kind=real; [ "$CONCLAVE_DRY_RUN" = 1 ] && kind=dry
cat > ${c.dir}/$kind.$CONCLAVE_EVENT_ID.stdin
env > ${c.dir}/$kind.$CONCLAVE_EVENT_ID.env
[ $kind = dry ] && { echo "hello from the dry run"; exit 4; }
exit 0
`,
          );
          chmodSync(h, 0o755);
          c.setElectorExtra(handlerYaml({ name: "record", on: ["member-down"], run: h, timeout: "10s" }));
        },
      },
    );
    await c.kill("m1");
    const ok = await until("the real run", async () =>
      (await events(api)).find((e) => e.type === "handler-succeeded"),
    );
    const id = Number(ok.details.event);
    const before = (await events(api)).length;

    const client = ["--addr", c.nodes.get("e2")!.addr, "--token-file", c.tokenFile];
    const config = c.nodes.get("e2")!.configFile;
    const dry = await conclave([
      "handlers",
      "test",
      "record",
      "--event",
      String(id),
      "--config",
      config,
      ...client,
    ]);
    t.is(dry.code, 1, dry.stderr);
    t.regex(
      dry.stdout,
      new RegExp(
        `^record for event ${id} \\(member-down\\), dry run: exit code 4 after \\d+ ms\\nhello from the dry run\\n$`,
      ),
    );

    const real = conclaveVars(readFileSync(join(c.dir, `real.${id}.env`), "utf8"));
    const dryEnv = conclaveVars(readFileSync(join(c.dir, `dry.${id}.env`), "utf8"));
    t.is(dryEnv.CONCLAVE_DRY_RUN, "1");
    t.is(real.CONCLAVE_DRY_RUN, "");
    for (const name of Object.keys(real).filter((n) => n !== "CONCLAVE_DRY_RUN"))
      t.is(dryEnv[name], real[name], name);
    t.deepEqual(Object.keys(dryEnv).sort(), [...HANDLER_ENV_NAMES].sort());
    t.deepEqual(Object.keys(real).sort(), [...HANDLER_ENV_NAMES].sort());
    t.deepEqual(
      JSON.parse(readFileSync(join(c.dir, `dry.${id}.stdin`), "utf8")),
      JSON.parse(readFileSync(join(c.dir, `real.${id}.stdin`), "utf8")),
    );

    // Recorded nothing: the next committed event follows the real run's outcome directly.
    await api.kvPut("after", "dry-run");
    const later = (await events(api)).slice(before - 1);
    t.deepEqual(
      later.map((e) => e.type),
      ["handler-succeeded"],
      "no event between the real run's outcome and now",
    );

    // A synthetic event, in JSON; unknown names and ids are usage errors.
    const synthetic = await conclave(["handlers", "test", "record", "--config", config, "--json", ...client]);
    t.is(synthetic.code, 1, synthetic.stderr);
    t.like(JSON.parse(synthetic.stdout), { handler: "record", event: 0, outcome: "exited", exit_code: 4 });
    const nope = await conclave(["handlers", "test", "nope", "--config", config, ...client]);
    t.is(nope.code, 2);
    t.regex(nope.stderr, /no handler "nope" in .*\(handlers: record\)/);
    const missing = await conclave([
      "handlers",
      "test",
      "record",
      "--event",
      "99999",
      "--config",
      config,
      ...client,
    ]);
    t.is(missing.code, 2);
    t.regex(missing.stderr, /event 99999 is not in the cluster's event log/);
  },
);
