/**
 * groupHasLiveMember (src/process/process-group-state.ts): a group that holds only a zombie
 * has no live member, though `kill(-pgid, 0)` still succeeds for it; a group with a running
 * process has one. The zombie is made deterministically: a Python parent forks a child that
 * moves into a group of its own and exits, and the parent never reaps it.
 */
import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import test from "ava";
import { groupHasLiveMember, processRuns } from "../../../src/process/process-group-state.ts";

const havePython = spawnSync("python3", ["-c", "pass"]).status === 0;
if (!havePython) console.log("process-group-state: skipped, python3 is not installed");
const maybe = havePython && process.platform === "linux" ? test : test.skip;

const ZOMBIE_MAKER = `
import os, sys, time
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.setpgid(0, 0)
    os.write(w, b"x")
    os._exit(0)
os.read(r, 1)
while open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
    time.sleep(0.01)
print(pid, flush=True)
time.sleep(60)
`;

maybe("a group of one zombie has no live member, though signal 0 reaches it", async (t) => {
  const parent = spawn("python3", ["-c", ZOMBIE_MAKER], { stdio: ["ignore", "pipe", "inherit"] });
  t.teardown(() => parent.kill("SIGKILL"));
  const line = await new Promise<string>((resolve) =>
    createInterface({ input: parent.stdout! }).once("line", resolve),
  );
  const zombie = Number(line);
  t.notThrows(() => process.kill(-zombie, 0), "the zombie's group still answers signal 0");
  t.false(groupHasLiveMember(zombie));
});

maybe("a group with a running process has a live member", (t) => {
  const sleeper = spawn("sleep", ["30"], { detached: true, stdio: "ignore" });
  t.teardown(() => sleeper.kill("SIGKILL"));
  t.true(groupHasLiveMember(sleeper.pid!));
});

test("without /proc the answer is unknown (null), not 'gone'", (t) => {
  t.is(groupHasLiveMember(1, "/no/such/proc"), null);
});

maybe(
  "processRuns: a zombie does not run; a sleeping process does; a pid that is gone does not",
  async (t) => {
    const parent = spawn("python3", ["-c", ZOMBIE_MAKER], { stdio: ["ignore", "pipe", "inherit"] });
    t.teardown(() => parent.kill("SIGKILL"));
    const line = await new Promise<string>((resolve) =>
      createInterface({ input: parent.stdout! }).once("line", resolve),
    );
    t.false(processRuns(Number(line)));
    t.true(processRuns(parent.pid!));
    const done = spawnSync("true");
    t.false(processRuns(done.pid));
  },
);
