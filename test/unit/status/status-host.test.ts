/**
 * The status port's Host check (src/status/status-host.ts), against DNS rebinding: it answers
 * only to this node's own names and addresses, by listen address, whatever the port.
 */
import test from "ava";
import {
  allowedHosts,
  hostPart,
  hostProblem,
  type StatusHostContext,
} from "../../../src/status/status-host.ts";

const on = (listenHost: string): StatusHostContext => ({
  listenHost,
  localAddresses: () => ["127.0.0.1", "10.0.0.1", "::1", "fd00::1"],
  hostname: "web1.example.com",
});

test("the host part of a Host header: lower case, no port, no brackets, no final dot", (t) => {
  t.is(hostPart("127.0.0.1:7480"), "127.0.0.1");
  t.is(hostPart("LocalHost"), "localhost");
  t.is(hostPart("[::1]:7480"), "::1");
  t.is(hostPart("web1.example.com.:80"), "web1.example.com");
  t.is(hostPart("::1"), null, "an IPv6 address needs its brackets");
  t.is(hostPart("a b"), null);
  t.is(hostPart("evil.example/x"), null);
});

test("on loopback: the listen address, localhost, 127.0.0.1 and ::1; no other name", (t) => {
  const c = on("127.0.0.1");
  for (const ok of ["127.0.0.1:7480", "localhost:7480", "localhost:8080", "[::1]:7480", "LOCALHOST"]) {
    t.is(hostProblem(ok, c), null, ok);
  }
  t.is(hostProblem(undefined, c), null, "no Host (HTTP/1.0): not a browser");
  for (const bad of ["evil.example:7480", "web1:7480", "10.0.0.1:7480", "127.0.0.1.evil.example", ""]) {
    t.regex(
      hostProblem(bad, c)!,
      /^misdirected request: Host ".*" is not a name or address of this status port/,
      bad,
    );
  }
  t.regex(
    hostProblem("rebind.evil.example:7480", on("127.0.0.1"))!,
    /use one of 127\.0\.0\.1, localhost, ::1 /,
  );
});

test("on one address: that address and this host's name; on the any-address: every local IP too", (t) => {
  const one = on("10.0.0.1");
  t.deepEqual([...allowedHosts(one)], ["10.0.0.1", "web1.example.com", "web1"]);
  t.is(hostProblem("10.0.0.1:7480", one), null);
  t.is(hostProblem("web1:7480", one), null, "Prometheus may scrape by host name");
  t.truthy(hostProblem("127.0.0.1:7480", one), "loopback does not reach a listener on 10.0.0.1");
  t.truthy(hostProblem("evil.example", one));

  const any = on("0.0.0.0");
  for (const ok of ["10.0.0.1:7480", "127.0.0.1", "[fd00::1]:7480", "localhost", "web1.example.com"]) {
    t.is(hostProblem(ok, any), null, ok);
  }
  t.truthy(hostProblem("10.0.0.2:7480", any), "an IP that is not this host's");
  t.truthy(hostProblem("attacker.example:7480", any));
  t.false(hostProblem("x", any)!.includes("0.0.0.0"), "the any-address is not offered as a name to use");
});

test("the refusal quotes the Host header as JSON and cuts a long one", (t) => {
  const p = hostProblem(`evil\u001b[2J${"x".repeat(200)}`, on("127.0.0.1"))!;
  t.false(p.includes("\u001b"));
  t.regex(p, /\.\.\. \(208 characters\)/);
});
