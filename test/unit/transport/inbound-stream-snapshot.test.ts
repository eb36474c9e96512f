/**
 * How one peer stream assembles a snapshot against the limits (contract/limits.ts): an
 * announced size past SNAPSHOT_MAX_BYTES is refused at once, naming the limit; the buffer
 * starts at most SNAPSHOT_PREALLOC_MAX_BYTES big and grows with the chunks, so announcing
 * 512 MiB and sending nothing costs a few MiB; chunks of any size reassemble exactly.
 */
import test from "ava";
import { SNAPSHOT_MAX_BYTES, SNAPSHOT_PREALLOC_MAX_BYTES } from "../../../src/contract/limits.ts";
import { InboundStream } from "../../../src/transport/inbound-stream.ts";
import { encodeFrame } from "../../../src/transport/raft-wire.ts";
import { BadPeerMessageError, DEFAULT_PEER_MESSAGE_LIMITS } from "../../../src/transport/validate-message.ts";
import { CLUSTER, snapMessage, wire } from "./peer-fixtures.ts";

/** The frame of a snap message from b to a announcing `size` bytes of data. */
function snapFrame(size: number): Buffer {
  const w = wire(snapMessage("b", "a", new Uint8Array(0)));
  return encodeFrame({ message: { ...w, snapshotMeta: { ...w.snapshotMeta!, dataSize: size } } });
}

const chunk = (offset: number, data: Uint8Array, last: boolean) =>
  encodeFrame({ chunk: { offset, data, last } });

test("the defaults are the limits of contract/limits.ts", (t) => {
  t.is(DEFAULT_PEER_MESSAGE_LIMITS.maxSnapshotBytes, SNAPSHOT_MAX_BYTES);
  t.is(DEFAULT_PEER_MESSAGE_LIMITS.snapshotPreallocBytes, SNAPSHOT_PREALLOC_MAX_BYTES);
});

test("an announced size past SNAPSHOT_MAX_BYTES is refused at once, naming the limit", (t) => {
  const s = new InboundStream("a", CLUSTER, DEFAULT_PEER_MESSAGE_LIMITS);
  const err = t.throws(() => s.accept(snapFrame(SNAPSHOT_MAX_BYTES + 1)), {
    instanceOf: BadPeerMessageError,
  });
  t.is(err?.field, "snapshot.data");
  t.regex(err?.message ?? "", /536870913 bytes exceeds the snapshot limit of 512 MiB \(SNAPSHOT_MAX_BYTES\)/);
});

test("announcing the largest snapshot and sending nothing allocates no more than the prealloc", (t) => {
  const before = process.memoryUsage().arrayBuffers;
  const streams = [1, 2, 3, 4].map(() => new InboundStream("a", CLUSTER, DEFAULT_PEER_MESSAGE_LIMITS));
  for (const s of streams) t.is(s.accept(snapFrame(SNAPSHOT_MAX_BYTES)), null);
  const grown = process.memoryUsage().arrayBuffers - before;
  // Four streams at 512 MiB each would be 2 GiB; at the prealloc they are 16 MiB.
  t.true(grown <= 4 * SNAPSHOT_PREALLOC_MAX_BYTES + 1024 * 1024, `${grown} bytes allocated`);
});

test("chunks past the first buffer grow it and reassemble the data exactly", (t) => {
  const limits = { ...DEFAULT_PEER_MESSAGE_LIMITS, maxSnapshotBytes: 10_000, snapshotPreallocBytes: 16 };
  const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) % 251);
  const s = new InboundStream("a", CLUSTER, limits);
  t.is(s.accept(snapFrame(data.length)), null);
  let offset = 0;
  let out = null;
  for (const n of [1, 15, 17, 200, 767]) {
    out = s.accept(chunk(offset, data.subarray(offset, offset + n), offset + n === data.length));
    offset += n;
  }
  t.is(offset, data.length);
  t.deepEqual(out?.snapshot?.data, data);
  t.is(out?.type, "snap");
});

test("more data than announced is refused even while the buffer is smaller than the announced size", (t) => {
  const limits = { ...DEFAULT_PEER_MESSAGE_LIMITS, snapshotPreallocBytes: 4 };
  const s = new InboundStream("a", CLUSTER, limits);
  s.accept(snapFrame(10));
  s.accept(chunk(0, new Uint8Array(8), false));
  t.throws(() => s.accept(chunk(8, new Uint8Array(3), true)), {
    message: /more data than the snapshot announced/,
  });
});
