/**
 * No remote code by default (issue 11, item 3; docs/checks.md#remote-commands), with real
 * processes. The attack: anyone holding an operator credential ran `id` on every member with
 * `conclave checks apply` and a `command` check. Now:
 * - m1 (no `allow_remote_commands`) refuses the `command` check and the check with an
 *   `action`: neither runs (each would create a file named after the agent's pid, and m1's is
 *   never created), neither is reported failing (no check-failing, no state in the committed
 *   view), and m1's refusal is committed (`checks-refused`) and shown per member by
 *   `conclave checks list` (text and --json), on every elector and after a leader change;
 * - m2 (`allow_remote_commands: true`) runs both: its command's file appears, its check fails
 *   and its action's file appears.
 *
 * "Never ran" is shown by waiting for m1's refusal to be committed, not by sleeping: a member
 * refuses a definition before it makes any runner for it, so once the refusal is reported no
 * run of that version can happen there.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { clusterUp, eventsAfter, until } from "../support/cluster-wait.ts";
import { conclave } from "../support/run-conclave.ts";

/** What `checks list --json` prints. */
interface ChecksListJson {
  version: number;
  checks: { name: string }[];
  refused: Record<string, Record<string, string>>;
}

const NOT_ALLOWED = /this member's config does not set allow_remote_commands: true/;

test.serial(
  "checks apply: a command check and an action are refused by a member by default, and run where allow_remote_commands: true",
  async (t) => {
    const { c, api, leader } = await clusterUp(
      t,
      {
        names: ["e1", "e2", "e3"],
        members: ["m1", "m2"],
        logLevel: "warn",
        heartbeat: "100ms",
        memberTimeout: "600ms",
        memberExtra: { m2: "allow_remote_commands: true" },
      },
      { client: "e2" },
    );
    const pid = (name: string) => c.nodes.get(name)!.proc!.pid!;
    // `$PPID` of the check's shell is the agent that ran it: one file per member.
    const commandRan = (name: string) => join(c.dir, `command-ran.${pid(name)}`);
    const actionRan = (name: string) => join(c.dir, `action-ran.${pid(name)}`);
    const file = join(c.dir, "remote.yaml");
    writeFileSync(
      file,
      [
        "- name: whoami",
        "  type: command",
        `  run: touch ${c.dir}/command-ran.$PPID`,
        "  interval: 100ms",
        "  rise: 1",
        "- name: web",
        "  type: file_exists",
        `  path: ${c.dir}/nowhere`,
        "  interval: 100ms",
        "  fall: 1",
        `  action: touch ${c.dir}/action-ran.$PPID`,
        "- name: tmp",
        "  type: file_exists",
        `  path: ${c.dir}`,
        "  interval: 100ms",
        "  rise: 1",
        "",
      ].join("\n"),
    );
    const since = (await eventsAfter(api)).at(-1)!.id;
    const addr = ["--addr", c.nodes.get("e2")!.addr, "--token-file", c.tokenFile];
    const applied = await conclave(["checks", "apply", file, ...addr]);
    t.is(applied.code, 0, applied.stderr);
    t.regex(
      applied.stderr,
      /note: whoami, web run a command .* unless their config sets allow_remote_commands: true/,
    );
    const version = Number(/as version (\d+)/.exec(applied.stdout)![1]);

    // m1's refusal of this version is committed: from then on nothing of it can run there.
    const refusal = await until("m1's checks-refused", async () =>
      (await eventsAfter(api, since)).find(
        (e) => e.type === "checks-refused" && e.member === "m1" && e.details.version === version,
      ),
    );
    const refused = refusal.details.refused as Record<string, string>;
    t.deepEqual(Object.keys(refused), ["web", "whoami"]);
    t.regex(refused.whoami!, /^a command check from checks apply; /);
    t.regex(refused.web!, /^its action is a command from checks apply; /);
    t.regex(refused.whoami!, NOT_ALLOWED);

    // m2 runs both: its command passes, its check fails and its action runs.
    await until("m2's whoami passing and web failing", async () => {
      const m2 = (await api.members()).members.find((m) => m.name === "m2");
      return m2?.checks.whoami === "passing" && m2.checks.web === "failing" ? true : undefined;
    });
    t.true(existsSync(commandRan("m2")), "the command ran on m2");
    await until("m2's action", async () => (existsSync(actionRan("m2")) ? true : undefined));
    // m1 ran its allowed check (so it did apply the set) and nothing refused.
    await until("m1's tmp passing", async () =>
      (await api.members()).members.find((m) => m.name === "m1")?.checks.tmp === "passing" ? true : undefined,
    );
    t.false(existsSync(commandRan("m1")), "the command never ran on m1");
    t.false(existsSync(actionRan("m1")), "the action never ran on m1");
    const m1 = (await api.members()).members.find((m) => m.name === "m1")!;
    t.false("whoami" in m1.checks, "a refused check has no state");
    t.false("web" in m1.checks, "a refused check is not failing");
    const events = await eventsAfter(api, since);
    t.false(
      events.some((e) => e.member === "m1" && e.type === "check-failing"),
      "no check-failing for a refused check",
    );
    t.false(
      events.some((e) => e.type === "checks-refused" && e.member === "m2"),
      "m2 refuses nothing",
    );

    // checks list shows, per member, what it refused and why, text and --json.
    const json = await conclave(["checks", "list", "--json", ...addr]);
    t.is(json.code, 0, json.stderr);
    const listed = JSON.parse(json.stdout) as ChecksListJson;
    t.is(listed.version, version);
    t.deepEqual(listed.refused, { m1: refused });
    const text = await conclave(["checks", "list", ...addr]);
    t.is(text.code, 0, text.stderr);
    t.regex(text.stdout, /^refused by members:$/m);
    t.regex(text.stdout, /^MEMBER\s+CHECK\s+REASON$/m);
    t.regex(text.stdout, /^m1\s+web\s+its action is a command from checks apply; /m);
    t.regex(text.stdout, /^m1\s+whoami\s+a command check from checks apply; /m);
    t.notRegex(text.stdout, /^m2\s/m);

    // Committed state: a new leader shows the same.
    await c.kill(leader);
    const next = await c.waitForLeader();
    t.not(next, leader);
    const after = await conclave([
      "checks",
      "list",
      "--json",
      "--addr",
      c.nodes.get(next)!.addr,
      "--token-file",
      c.tokenFile,
    ]);
    t.is(after.code, 0, after.stderr);
    t.deepEqual((JSON.parse(after.stdout) as ChecksListJson).refused, { m1: refused });

    // A set without commands clears the refusal.
    const clean = join(c.dir, "clean.yaml");
    writeFileSync(clean, `- name: tmp\n  type: file_exists\n  path: ${c.dir}\n`);
    const reapplied = await conclave([
      "checks",
      "apply",
      clean,
      "--addr",
      c.nodes.get(next)!.addr,
      "--token-file",
      c.tokenFile,
    ]);
    t.is(reapplied.code, 0, reapplied.stderr);
    t.notRegex(reapplied.stderr, /note:/);
    const cleared = JSON.parse(
      (
        await conclave([
          "checks",
          "list",
          "--json",
          "--addr",
          c.nodes.get(next)!.addr,
          "--token-file",
          c.tokenFile,
        ])
      ).stdout,
    ) as ChecksListJson;
    t.deepEqual(cleared.refused, {});
  },
);
