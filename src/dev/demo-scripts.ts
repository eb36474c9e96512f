/**
 * The scripts `conclave dev` writes into its folder: the demo handler, which says in the
 * terminal that it ran (once, on the leader), and each member's `db` service
 * (docs/services-and-masters.md), whose `promote` and `demote` say in the terminal that the
 * master moved. Each script appends its line to the feed file the dev process prints.
 */
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** The demo's master service. */
export const DEMO_SERVICE = "db";

function script(file: string, lines: readonly string[]): void {
  writeFileSync(file, ["#!/bin/sh", ...lines, ""].join("\n"));
  chmodSync(file, 0o755);
}

/** `$(date +%H:%M:%S)`, the time stamp of each feed line. */
const NOW = "$(date +%H:%M:%S)";

/** Write the demo handler to `file`: one feed line per run. */
export function writeDemoHandler(file: string, feed: string): void {
  script(file, [
    "# The demo handler: runs on the leader, once per event, and says so.",
    "cat > /dev/null",
    `echo "${NOW} handler ran for $CONCLAVE_EVENT of \${CONCLAVE_MEMBER:-?} (event $CONCLAVE_EVENT_ID, attempt $CONCLAVE_ATTEMPT, fence $CONCLAVE_FENCE)" >> ${feed}`,
  ]);
}

/** Where one member's `db` lives: its services_dir, its state file, its "break the status" file. */
export interface DemoServicePaths {
  /** The member's `services_dir`. */
  readonly servicesDir: string;
  /** `standby` or `master EPOCH`, kept by the scripts. */
  readonly roleFile: string;
  /** While this file exists, `db`'s status script fails. */
  readonly brokenFile: string;
}

/** The paths of `member`'s `db` under `memberDir`. */
export function demoServicePaths(memberDir: string): DemoServicePaths {
  return {
    servicesDir: join(memberDir, "services"),
    roleFile: join(memberDir, `${DEMO_SERVICE}.role`),
    brokenFile: join(memberDir, `${DEMO_SERVICE}.broken`),
  };
}

/**
 * Write `member`'s `services_dir` with the one service `db`: `start` / `stop` keep a role
 * file, `status` fails while the broken file exists, `promote` / `demote` (quick and
 * idempotent, as the master lease needs) update the role file and print a feed line.
 */
export function writeDemoService(member: string, p: DemoServicePaths, feed: string): void {
  const dir = join(p.servicesDir, DEMO_SERVICE);
  mkdirSync(dir, { recursive: true });
  const s = DEMO_SERVICE;
  script(join(dir, "start"), [`echo standby > ${p.roleFile}`]);
  script(join(dir, "stop"), [`rm -f ${p.roleFile}`]);
  script(join(dir, "status"), [
    `# ${s}'s health on ${member}: fails while ${p.brokenFile} exists.`,
    `if [ -e ${p.brokenFile} ]; then echo "${p.brokenFile} exists"; exit 1; fi`,
    `echo "${s} is fine"`,
  ]);
  script(join(dir, "promote"), [
    `echo "master $CONCLAVE_EPOCH" > ${p.roleFile}`,
    `echo "${NOW} ${member} ran promote: ${member} is master of ${s} (epoch $CONCLAVE_EPOCH)" >> ${feed}`,
  ]);
  script(join(dir, "demote"), [
    `echo standby > ${p.roleFile}`,
    `echo "${NOW} ${member} ran demote: ${member} is no longer master of ${s} (epoch $CONCLAVE_EPOCH, $CONCLAVE_REASON)" >> ${feed}`,
  ]);
}
