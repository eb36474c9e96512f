/**
 * `conclave audit verify`: passes on a healthy log; on a copied data dir whose one event
 * was altered (re-encoded with a valid checksum, as a forger would), it names that event.
 */
import { execFile } from "node:child_process";
import { cpSync } from "node:fs";
import { join } from "node:path";
import test from "ava";
import { ClassicLevel } from "classic-level";
import { decodeEntry, encodeEntry } from "../../src/storage/log-entry-codec.ts";
import { ENTRY_KEY_HI, ENTRY_KEY_LO } from "../../src/storage/log-keys.ts";
import { clusterUp, until } from "../support/cluster-wait.ts";
import { conclaveArgv } from "../support/conclave-entry.ts";

function conclave(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, conclaveArgv(args), { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

test("audit verify passes on a healthy log and names the one event altered in a copied data dir", async (t) => {
  const { c, api } = await clusterUp(t, {
    names: ["e1", "e2", "e3"],
    members: ["m1", "m2"],
    logLevel: "warn",
  });
  await c.kill("m1");
  await until("member-down", async () =>
    (await api.events(0, "member-down", 10)).eventsJson.length ? true : undefined,
  );
  const cli = ["--addr", c.nodes.get("e1")!.addr, "--token-file", c.tokenFile];
  const healthy = await conclave(["audit", "verify", ...cli]);
  t.is(healthy.code, 0, healthy.stderr);
  t.regex(healthy.stdout, /^ok: \d+ events verified/);

  // Copy a stopped elector's data dir (everything committed so far is in it).
  t.is(await c.terminate("e3"), 0);
  const copy = join(c.dir, "e3-copy");
  cpSync(c.nodes.get("e3")!.dataDir, copy, { recursive: true });
  c.start("e3");

  const same = await conclave(["audit", "verify", "--data-dir", copy, ...cli]);
  t.is(same.code, 0, same.stdout + same.stderr);
  t.regex(same.stdout, /match the cluster's chain/);

  // Alter the member-down event: a different member, re-encoded with a valid checksum.
  const db = new ClassicLevel<Buffer, Buffer>(copy, { keyEncoding: "buffer", valueEncoding: "buffer" });
  let altered = -1;
  for await (const [key, value] of db.iterator({ gte: ENTRY_KEY_LO, lt: ENTRY_KEY_HI })) {
    const e = decodeEntry(value);
    if (e.type !== "normal" || e.data.length === 0) continue;
    const cmd = JSON.parse(Buffer.from(e.data).toString("utf8"));
    if (cmd.type === "event" && cmd.event.type === "member-down") {
      cmd.event.member = "m2";
      await db.put(key, encodeEntry({ ...e, data: Buffer.from(JSON.stringify(cmd)) }));
      altered = e.index;
      break;
    }
  }
  await db.close();
  t.true(altered > 0, "found the member-down entry");

  const broken = await conclave(["audit", "verify", "--data-dir", copy, ...cli]);
  t.is(broken.code, 1, broken.stdout + broken.stderr);
  t.regex(broken.stdout, new RegExp(`^broken at event ${altered}: it differs from the cluster`));
});
