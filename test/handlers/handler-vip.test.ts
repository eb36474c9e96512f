/**
 * The vip service script (handlers/src/vip.ts), run as a child process.
 *
 * Without privileges: settings and their exit codes, and the command logic against fake
 * `ip` and `arping` programs that log their arguments.
 *
 * With root and `ip netns` (skipped otherwise, with a line saying so): three network
 * namespaces on one bridge, A and B (the candidate masters) and O (an observer holding the
 * bridge). The address moves from A to B, and O's neighbour entry for it follows to B's MAC
 * without O sending anything: the gratuitous ARP did it. Namespaces have a random suffix
 * and are deleted in `after.always`, whatever happened.
 */
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import test from "ava";
import { parseAddrShow } from "../../handlers/src/vip-iproute.ts";
import { parseVipSettings, VipSettingsError } from "../../handlers/src/vip-settings.ts";
import { handlerArgv } from "../support/conclave-entry.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PATH = process.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const dir = mkdtempSync(join(tmpdir(), "conclave-vip-"));
test.after.always(() => rmSync(dir, { recursive: true, force: true }));

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Run vip with `args` as the service manager runs a promote/demote script: the agent's PATH,
 * CONCLAVE_SERVICE and CONCLAVE_EPOCH (no handler variables), plus `env`. With `netns`, inside
 * that namespace (`ip netns exec`).
 */
function vip(args: readonly string[], env: Record<string, string> = {}, netns?: string): Promise<Result> {
  const argv = [process.execPath, ...handlerArgv("vip", args)];
  const [file, ...rest] = netns ? ["ip", "netns", "exec", netns, ...argv] : argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file!, rest, {
      cwd: ROOT,
      env: { PATH, CONCLAVE_SERVICE: "db", CONCLAVE_EPOCH: "7", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const guard = setTimeout(() => child.kill("SIGKILL"), 60_000); // a safety net only
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    });
  });
}

// ---------------------------------------------------------------- settings (no privileges)

test("parseVipSettings: flags, environment, defaults, and the action from the program's name", (t) => {
  const s = parseVipSettings(["up", "--address", "10.0.0.100/24", "--interface", "eth0"], {}, "/x/vip");
  t.like(s, { action: "up", interface: "eth0", arpCount: 2, ip: "ip", arping: "arping" });
  t.like(s, { address: { prefix: 24, ip: { type: "A", text: "10.0.0.100" } } });
  const env = { VIP_ADDRESS: "2001:DB8:0:0::1", VIP_INTERFACE: "bond0", VIP_ARP_COUNT: "0" };
  t.like(parseVipSettings([], env, "/etc/conclave/services/db/promote"), {
    action: "up",
    interface: "bond0",
    arpCount: 0,
    address: { prefix: 128, ip: { type: "AAAA", text: "2001:db8::1" } },
  });
  t.like(parseVipSettings(["--interface", "eth1"], env, "/etc/conclave/services/db/demote"), {
    action: "down",
    interface: "eth1",
  });
  t.is(parseVipSettings(["--help"], {}, "vip"), "help");
  t.throws(() => parseVipSettings([], env, "/x/vip"), { instanceOf: VipSettingsError, message: /action/ });
});

test("bad addresses exit 2 naming --address (VIP_ADDRESS), before any command runs", async (t) => {
  for (const address of [
    "300.1.2.3/24",
    "10.0.0.1/33",
    "2001:db8::1/129",
    "eth0",
    "10.0.0.1/24/8",
    "0.0.0.0",
    "224.0.0.5/32",
    "ff02::1",
  ]) {
    const r = await vip(["up", "--interface", "eth0", "--ip", "/nonexistent/ip"], { VIP_ADDRESS: address });
    t.is(r.code, 2, `${address}: ${r.stderr}`);
    t.regex(r.stderr, /^vip: --address \(VIP_ADDRESS\) /, address);
  }
  const noAddress = await vip(["down", "--interface", "eth0"]);
  t.is(noAddress.code, 2);
  t.regex(noAddress.stderr, /--address \(VIP_ADDRESS\) is required[\s\S]*Usage: vip up\|down/);
});

test("usage: --help exits 0; no action, a bad action, an unknown flag or a bad interface name exit 2", async (t) => {
  const help = await vip(["--help"]);
  t.is(help.code, 0);
  t.regex(help.stdout, /^Usage: vip up\|down --address ADDR\[\/PREFIX\] --interface IF/);
  t.regex(help.stdout, /not a leader-side handler/);
  const cases: [string[], RegExp][] = [
    [["--address", "10.0.0.1", "--interface", "eth0"], /the action, up or down, is missing/],
    [["sideways", "--address", "10.0.0.1", "--interface", "eth0"], /the action must be up or down/],
    [["up", "--address", "10.0.0.1", "--interface", "eth0", "--netns", "x"], /Unknown option '--netns'/],
    [
      ["up", "--address", "10.0.0.1", "--interface", "not/a/name"],
      /--interface \(VIP_INTERFACE\) is not an interface name/,
    ],
    [["up", "--address", "10.0.0.1", "--interface", "eth0", "--arp-count", "-1"], /--arp-count/],
  ];
  for (const [args, message] of cases) {
    const r = await vip(args);
    t.is(r.code, 2, args.join(" "));
    t.regex(r.stderr, message);
  }
});

test("refuses to run as a leader-side handler: exit 2", async (t) => {
  const r = await vip(["up", "--address", "10.0.0.100/24", "--interface", "eth0"], {
    CONCLAVE_HANDLER: "vip",
    CONCLAVE_EVENT: "master-promoted",
  });
  t.is(r.code, 2);
  t.regex(r.stderr, /leader-side handler "vip": vip must run on the master itself/);
});

test("ip or arping missing: exit 2 naming --ip (VIP_IP) / --arping (VIP_ARPING)", async (t) => {
  const emptyDir = mkdtempSync(join(dir, "empty-"));
  const noIp = await vip(["up", "--address", "10.0.0.100/24", "--interface", "eth0"], { PATH: emptyDir });
  t.is(noIp.code, 2);
  t.regex(noIp.stderr, /^vip: --ip \(VIP_IP\): ip not found in PATH .*install iproute2/);
  const badPath = await vip(["down", "--address", "10.0.0.100/24", "--interface", "eth0"], {
    VIP_IP: join(emptyDir, "ip"),
  });
  t.is(badPath.code, 2);
  t.regex(badPath.stderr, /--ip \(VIP_IP\): .*ip is not an executable file/);
  const fake = fakePrograms("noarping", { addrShow: "" });
  const noArping = await vip(["up", "--address", "10.0.0.100/24", "--interface", "eth0", "--ip", fake.ip], {
    PATH: emptyDir,
  });
  t.is(noArping.code, 2);
  t.regex(noArping.stderr, /--arping \(VIP_ARPING\): arping not found in PATH/);
  t.deepEqual(fake.calls(), [], "nothing was changed before the check");
});

// ---------------------------------------------------------------- fake ip and arping

/**
 * Fake `ip` and `arping` in a folder of their own: each appends its argv to a log; `ip -o addr
 * show` prints `addrShow` (or, with `missing`, says the device does not exist); `ip addr
 * add` fails with `addFails` when given.
 */
function fakePrograms(
  name: string,
  o: { addrShow: string; addFails?: string; missing?: boolean },
): { ip: string; arping: string; calls: () => string[] } {
  const d = mkdtempSync(join(dir, `${name}-`));
  const log = join(d, "calls.log");
  writeFileSync(log, "");
  writeFileSync(join(d, "addr-show.txt"), o.addrShow);
  const script = (body: string) => `#!/bin/sh\necho "$(basename "$0") $*" >> '${log}'\n${body}\n`;
  const ip = join(d, "ip");
  writeFileSync(
    ip,
    script(
      [
        'if [ "$1" = "-o" ]; then',
        o.missing
          ? `  echo 'Device "$5" does not exist.' >&2; exit 1`
          : `  cat '${join(d, "addr-show.txt")}'; exit 0`,
        "fi",
        o.addFails ? `if [ "$2" = "add" ]; then echo '${o.addFails}' >&2; exit 2; fi` : "",
        "exit 0",
      ].join("\n"),
    ),
  );
  const arping = join(d, "arping");
  writeFileSync(arping, script("exit 0"));
  chmodSync(ip, 0o755);
  chmodSync(arping, 0o755);
  return {
    ip,
    arping,
    calls: () =>
      readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l !== "" && !l.startsWith("ip -o addr show")),
  };
}

const SHOW_WITH_VIP = [
  "2: eth0    inet 10.0.0.5/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever",
  "2: eth0    inet 10.0.0.100/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever",
  "2: eth0    inet6 fe80::1/64 scope link \\       valid_lft forever preferred_lft forever",
].join("\n");

test("parseAddrShow reads ip -o addr show lines (IPv4, IPv6, point-to-point)", (t) => {
  t.deepEqual(
    parseAddrShow(`${SHOW_WITH_VIP}\n3: tun0    inet 10.9.0.1 peer 10.9.0.2/32 scope global tun0\n`),
    [
      { address: "10.0.0.5", prefix: 24 },
      { address: "10.0.0.100", prefix: 24 },
      { address: "fe80::1", prefix: 64 },
      { address: "10.9.0.1", prefix: 32 },
    ],
  );
});

test("fake ip: up adds and announces; up again only announces; down deletes; down again does nothing", async (t) => {
  const args = ["--address", "10.0.0.100/24", "--interface", "eth0"];
  const absent = fakePrograms("absent", { addrShow: SHOW_WITH_VIP.split("\n")[0]! });
  const env = (f: { ip: string; arping: string }) => ({ VIP_IP: f.ip, VIP_ARPING: f.arping });
  const up1 = await vip(["up", ...args], env(absent));
  t.is(up1.code, 0, up1.stderr);
  t.is(
    up1.stdout,
    "vip: up: added 10.0.0.100/24 to eth0; announced with 2 gratuitous ARP (service db, epoch 7)\n",
  );
  t.deepEqual(absent.calls(), ["ip addr add 10.0.0.100/24 dev eth0", "arping -U -c 2 -I eth0 10.0.0.100"]);
  const down2 = await vip(["down", ...args], env(absent));
  t.is(down2.code, 0, down2.stderr);
  t.regex(down2.stdout, /^vip: down: 10\.0\.0\.100 was not on eth0/);

  const present = fakePrograms("present", { addrShow: SHOW_WITH_VIP });
  const up2 = await vip(["up", ...args], env(present));
  t.is(up2.code, 0, up2.stderr);
  t.regex(up2.stdout, /already on eth0; announced/);
  const down1 = await vip(["down", ...args], env(present));
  t.is(down1.code, 0, down1.stderr);
  t.deepEqual(present.calls(), ["arping -U -c 2 -I eth0 10.0.0.100", "ip addr del 10.0.0.100/24 dev eth0"]);

  const otherPrefix = fakePrograms("prefix", { addrShow: SHOW_WITH_VIP });
  const up3 = await vip(
    ["up", "--address", "10.0.0.100/32", "--interface", "eth0", "--arp-count", "0"],
    env(otherPrefix),
  );
  t.is(up3.code, 0, up3.stderr);
  t.deepEqual(otherPrefix.calls(), [
    "ip addr del 10.0.0.100/24 dev eth0",
    "ip addr add 10.0.0.100/32 dev eth0",
  ]);
});

test("fake ip: ip failing exits 1 with its message; a missing interface is exit 2 for up, 0 for down", async (t) => {
  const failing = fakePrograms("failing", {
    addrShow: "",
    addFails: "RTNETLINK answers: Operation not permitted",
  });
  const r = await vip(["up", "--address", "10.0.0.100/24", "--interface", "eth0"], {
    VIP_IP: failing.ip,
    VIP_ARPING: failing.arping,
  });
  t.is(r.code, 1);
  t.is(
    r.stderr,
    "vip: ip addr add 10.0.0.100/24 dev eth0 failed (exit 2): RTNETLINK answers: Operation not permitted\n",
  );

  const missing = fakePrograms("missing", { addrShow: "", missing: true });
  const up = await vip(["up", "--address", "10.0.0.100/24", "--interface", "eth9"], {
    VIP_IP: missing.ip,
    VIP_ARPING: missing.arping,
  });
  t.is(up.code, 2);
  t.regex(up.stderr, /^vip: --interface \(VIP_INTERFACE\): there is no interface eth9/);
  const down = await vip(["down", "--address", "10.0.0.100/24", "--interface", "eth9"], {
    VIP_IP: missing.ip,
  });
  t.is(down.code, 0);
  t.regex(down.stdout, /there is no interface eth9, so 10\.0\.0\.100 is not on it/);
  t.deepEqual(missing.calls(), []);
});

// ---------------------------------------------------------------- network namespaces (root)

const suffix = `${process.pid.toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const NS = { a: `cvip-a-${suffix}`, b: `cvip-b-${suffix}`, o: `cvip-o-${suffix}` } as const;

/** Run `ip ARGS` synchronously; throws with its stderr when it fails. */
function ip(...args: string[]): string {
  const r = spawnSync("ip", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.error?.message ?? r.stderr.trim()}`);
  return r.stdout;
}

/** Why the namespace tests cannot run here, or null when they can. */
function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "not root";
  if (spawnSync("arping", ["-V"]).error) return "no arping in PATH (Debian: iputils-arping)";
  const probe = `cvip-probe-${suffix}`;
  try {
    ip("netns", "add", probe);
    ip("netns", "del", probe);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

const whyNot = netnsUnavailable();
const canNetns = whyNot === null;
if (!canNetns) {
  console.log(`handler-vip: network namespace tests SKIPPED: they need root and \`ip netns\` (${whyNot})`);
}
const netnsTest = canNetns ? test.serial : test.skip;

const VIP_ADDR = "192.0.2.100";
/** An address the observer learns on A and then sees announced from B (a later event). */
const MARK_ADDR = "192.0.2.150";

if (canNetns) {
  test.before(() => {
    for (const ns of Object.values(NS)) ip("netns", "add", ns);
    // O holds the bridge (and its own address on it); A and B each get an eth0 on it.
    ip("-n", NS.o, "link", "add", "br0", "type", "bridge");
    ip("-n", NS.o, "link", "add", "pa", "type", "veth", "peer", "name", "eth0", "netns", NS.a);
    ip("-n", NS.o, "link", "add", "pb", "type", "veth", "peer", "name", "eth0", "netns", NS.b);
    for (const port of ["pa", "pb"]) {
      ip("-n", NS.o, "link", "set", port, "master", "br0");
      ip("-n", NS.o, "link", "set", port, "up");
    }
    ip("-n", NS.o, "link", "set", "br0", "up");
    ip("-n", NS.o, "addr", "add", "192.0.2.3/24", "dev", "br0");
    ip("-n", NS.a, "addr", "add", "192.0.2.1/24", "dev", "eth0");
    ip("-n", NS.b, "addr", "add", "192.0.2.2/24", "dev", "eth0");
    for (const ns of [NS.a, NS.b]) ip("-n", ns, "link", "set", "eth0", "up");
    // A veth end left down, for the arping failure test.
    ip("-n", NS.a, "link", "add", "down0", "type", "veth", "peer", "name", "down1");
  });
  test.after.always(() => {
    for (const ns of Object.values(NS)) spawnSync("ip", ["netns", "del", ns]);
  });
}

/** The MAC address of `dev` in `ns`. */
function macOf(ns: string, dev: string): string {
  const [link] = JSON.parse(ip("-n", ns, "-j", "link", "show", "dev", dev)) as { address: string }[];
  return link!.address.toLowerCase();
}

/** The addresses on `dev` in `ns`, as `ADDR/PREFIX`. */
function addressesOf(ns: string, dev: string): string[] {
  return parseAddrShow(ip("-n", ns, "-o", "addr", "show", "dev", dev)).map((a) => `${a.address}/${a.prefix}`);
}

/** The observer's neighbour entry for `addr` on br0: its MAC (null when none) and state. */
function neighbour(addr: string): { mac: string | null; state: string } {
  const entries = JSON.parse(ip("-n", NS.o, "-j", "neigh", "show", addr, "dev", "br0")) as {
    lladdr?: string;
    state?: string[];
  }[];
  const e = entries[0];
  return { mac: e?.lladdr?.toLowerCase() ?? null, state: e?.state?.join(",") ?? "none" };
}

/** Poll `probe` every 100 ms until it returns true or `ms` pass; returns the last result. */
async function eventually(probe: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (probe()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Make the observer's kernel resolve `addr` (a UDP datagram to it: an ARP request first). */
function observerSends(addr: string): void {
  const code = `const s=require("dgram").createSocket("udp4");s.send("x",9,${JSON.stringify(addr)},()=>s.close())`;
  const r = spawnSync("ip", ["netns", "exec", NS.o, process.execPath, "-e", code], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`observer send: ${r.stderr}`);
}

netnsTest(
  "the address moves from A to B; gratuitous ARP points the observer's neighbour entry at B",
  async (t) => {
    const macA = macOf(NS.a, "eth0");
    const macB = macOf(NS.b, "eth0");
    t.not(macA, macB);
    const args = ["--address", `${VIP_ADDR}/24`, "--interface", "eth0"];
    // A marker address, on A for now, that the observer has resolved to A's MAC: announced
    // from B later, it is the later event that shows what reached the observer before it.
    ip("-n", NS.a, "addr", "add", `${MARK_ADDR}/24`, "dev", "eth0");
    observerSends(MARK_ADDR);
    t.true(
      await eventually(() => neighbour(MARK_ADDR).mac === macA, 5000),
      JSON.stringify(neighbour(MARK_ADDR)),
    );

    const upA = await vip(["up", ...args], {}, NS.a);
    t.is(upA.code, 0, upA.stderr);
    t.regex(
      upA.stdout,
      /^vip: up: added 192\.0\.2\.100\/24 to eth0; announced with 2 gratuitous ARP \(service db, epoch 7\)\n$/,
    );
    t.true(addressesOf(NS.a, "eth0").includes(`${VIP_ADDR}/24`));

    // From the observer: arping is answered by A's MAC, and the kernel's own entry says the same.
    const seen = spawnSync(
      "ip",
      ["netns", "exec", NS.o, "arping", "-c", "1", "-w", "3", "-I", "br0", VIP_ADDR],
      {
        encoding: "utf8",
      },
    );
    t.is(seen.status, 0, seen.stdout + seen.stderr);
    t.true(seen.stdout.toLowerCase().includes(`[${macA}]`), seen.stdout);
    observerSends(VIP_ADDR);
    t.true(
      await eventually(() => neighbour(VIP_ADDR).mac === macA, 5000),
      JSON.stringify(neighbour(VIP_ADDR)),
    );

    // Failover: A demotes, B promotes. The observer sends nothing from here on.
    const downA = await vip(["down", ...args], {}, NS.a);
    t.is(downA.code, 0, downA.stderr);
    t.regex(downA.stdout, /^vip: down: removed 192\.0\.2\.100\/24 from eth0/);
    // Control: B takes the address without announcing it; the observer keeps A's MAC.
    const quietB = await vip(["up", ...args, "--arp-count", "0"], {}, NS.b);
    t.is(quietB.code, 0, quietB.stderr);
    t.false(addressesOf(NS.a, "eth0").includes(`${VIP_ADDR}/24`));
    t.true(addressesOf(NS.b, "eth0").includes(`${VIP_ADDR}/24`));
    // The later event: B announces the marker address (moved to it from A). Once the observer's
    // entry for the marker points at B, anything B sent before it has arrived too.
    ip("-n", NS.a, "addr", "del", `${MARK_ADDR}/24`, "dev", "eth0");
    const markB = await vip(["up", "--address", `${MARK_ADDR}/24`, "--interface", "eth0"], {}, NS.b);
    t.is(markB.code, 0, markB.stderr);
    t.true(
      await eventually(() => neighbour(MARK_ADDR).mac === macB, 5000),
      `observer's marker entry: ${JSON.stringify(neighbour(MARK_ADDR))}, A ${macA}, B ${macB}`,
    );
    t.is(neighbour(VIP_ADDR).mac, macA, "without an announcement the observer's entry stays on A");
    // `up` again (idempotent: the address stays once) announces it; the entry follows to B.
    const upB = await vip(["up", ...args], {}, NS.b);
    t.is(upB.code, 0, upB.stderr);
    t.regex(upB.stdout, /already on eth0; announced with 2 gratuitous ARP/);
    t.deepEqual(
      addressesOf(NS.b, "eth0").filter((a) => a.startsWith(`${VIP_ADDR}/`)),
      [`${VIP_ADDR}/24`],
    );
    // Both announcements have been sent when `up` returns; allow a moment for delivery.
    t.true(
      await eventually(() => neighbour(VIP_ADDR).mac === macB, 2000),
      `observer's entry: ${JSON.stringify(neighbour(VIP_ADDR))}, A ${macA}, B ${macB}`,
    );
  },
);

netnsTest("up and down are idempotent; up with another prefix length replaces it", async (t) => {
  const addr = "192.0.2.101";
  const args = ["--address", `${addr}/24`, "--interface", "eth0", "--arp-count", "1"];
  const count = () => addressesOf(NS.a, "eth0").filter((a) => a.startsWith(`${addr}/`));
  for (const _ of [1, 2]) {
    const r = await vip(["up", ...args], {}, NS.a);
    t.is(r.code, 0, r.stderr);
    t.deepEqual(count(), [`${addr}/24`]);
  }
  const r32 = await vip(["up", "--address", addr, "--interface", "eth0", "--arp-count", "0"], {}, NS.a);
  t.is(r32.code, 0, r32.stderr);
  t.regex(r32.stdout, /replaced 192\.0\.2\.101\/24 with 192\.0\.2\.101\/32/);
  t.deepEqual(count(), [`${addr}/32`]);
  for (const _ of [1, 2]) {
    const r = await vip(["down", ...args], {}, NS.a);
    t.is(r.code, 0, r.stderr);
    t.deepEqual(count(), []);
  }
});

netnsTest("inside a namespace: a missing interface is exit 2 for up; arping failing is exit 1", async (t) => {
  const missing = await vip(["up", "--address", "192.0.2.102/32", "--interface", "eth7"], {}, NS.a);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /--interface \(VIP_INTERFACE\): there is no interface eth7/);
  // down0 exists but is down: the address is added, the announcement fails, up exits 1.
  const down = await vip(["up", "--address", "192.0.2.103/32", "--interface", "down0"], {}, NS.a);
  t.is(down.code, 1);
  t.regex(down.stderr, /^vip: arping -U -c 2 -I down0 192\.0\.2\.103 failed \(exit \d+\): .*down/);
  const bad = await vip(["up", "--address", "192.0.2.300/32", "--interface", "eth0"], {}, NS.a);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--address \(VIP_ADDRESS\) is not an IPv4 or IPv6 address/);
});
