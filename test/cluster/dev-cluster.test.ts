/**
 * `conclave dev` (npm start) as a user meets it: a banner with the nodes' pids, the demo
 * handler's line when a member is killed, the status page showing it down, and Ctrl-C leaving
 * no process behind.
 */
import { spawn } from "node:child_process";
import test from "ava";
import { alive } from "../support/poll.ts";

test("conclave dev: kill -9 a member, the demo handler runs once; Ctrl-C stops every child", async (t) => {
  const dev = spawn(process.execPath, ["--import=tsx", "src/main.ts", "dev"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  dev.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  dev.stderr.on("data", (d: Buffer) => {
    out += d.toString();
  });
  t.teardown(() => {
    if (dev.exitCode === null) dev.kill("SIGINT");
  });
  const waitFor = async (re: RegExp, ms = 30_000) => {
    const deadline = Date.now() + ms;
    while (!re.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    return out.match(re);
  };
  t.truthy(await waitFor(/Ctrl-C stops everything/), out);
  const pids = [...out.matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
  t.is(pids.length, 6);
  const web2 = Number(out.match(/web2\s+\S+\s+pid (\d+)/)![1]);
  process.kill(web2, "SIGKILL");
  t.truthy(await waitFor(/handler ran for member-down of web2/), out);
  // A later, distinguishable run: web3's member-down. A (wrong) second run for web2 would
  // have printed its line before web3's.
  const web3 = Number(out.match(/web3\s+\S+\s+pid (\d+)/)![1]);
  process.kill(web3, "SIGKILL");
  t.truthy(await waitFor(/handler ran for member-down of web3/), out);
  t.deepEqual(
    [...out.matchAll(/handler ran for member-down of (\S+)/g)].map((m) => m[1]),
    ["web2", "web3"],
    "the handler ran exactly once for each",
  );
  // The status page the banner points at shows it too.
  const page = out.match(/Open (http:\/\/127\.0\.0\.1:\d+\/) in a browser/)![1]!;
  const html = await (await fetch(page)).text();
  t.regex(html, /<td>web2<\/td><td>127\.0\.0\.1:\d+<\/td><td><span class="badge bad">down<\/span>/);
  t.is((await fetch(`${page}healthz`)).status, 200);

  const exited = new Promise<number | null>((r) => dev.once("close", (code) => r(code)));
  dev.kill("SIGINT");
  t.is(await exited, 0);
  t.regex(out, /no process left behind/);
  t.deepEqual(pids.filter(alive), []);
});
