/**
 * How the control API answers a request past a limit: RESOURCE_EXHAUSTED with the limit's own
 * message (the CLI prints it and exits 1), INVALID_ARGUMENT for a membership change the gate
 * refuses; a kv delete is never refused by the quota.
 */
import * as grpc from "@grpc/grpc-js";
import test from "ava";
import { LimitExceededError } from "../../../src/coordinator/command-limits.ts";
import { BadCommandError } from "../../../src/coordinator/commands.ts";
import { toServiceError } from "../../../src/control/control-grpc.ts";
import { ConfChangeEntryError } from "../../../src/elector/elector-node.ts";

test("a limit exceeded is RESOURCE_EXHAUSTED with the message naming the limit", (t) => {
  const reason =
    "kv quota exceeded: the store would hold 67174400 bytes of keys and values; the quota is 64 MiB (delete keys to make room)";
  t.like(toServiceError(new LimitExceededError("kv-quota", reason)), {
    code: grpc.status.RESOURCE_EXHAUSTED,
    details: reason,
  });
  t.like(toServiceError(new LimitExceededError("checks-per-member", "x")), {
    code: grpc.status.RESOURCE_EXHAUSTED,
  });
});

test("a bad name and a refused membership change are INVALID_ARGUMENT", (t) => {
  t.like(toServiceError(new BadCommandError('"a b" is not a valid member name')), {
    code: grpc.status.INVALID_ARGUMENT,
  });
  t.like(toServiceError(new ConfChangeEntryError("conf change: the address of d is longer than 260 bytes")), {
    code: grpc.status.INVALID_ARGUMENT,
    details: "conf change: the address of d is longer than 260 bytes",
  });
});
