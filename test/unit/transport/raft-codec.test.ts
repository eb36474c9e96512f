/**
 * The Raft peer wire: every message kind survives encode -> frame -> decode unchanged, and
 * undecodable frames or unknown types are refused naming the field.
 */
import test from "ava";
import { decodeMessage, encodeMessage } from "../../../src/transport/raft-codec.ts";
import { decodeFrame, encodeFrame } from "../../../src/transport/raft-wire.ts";
import { BadPeerMessageError, validateMessage } from "../../../src/transport/validate-message.ts";
import { CLUSTER, everyKind, snapMessage, wire } from "./peer-fixtures.ts";

test("every message kind survives encode -> frame -> decode unchanged", (t) => {
  const all = [...everyKind("a", "b"), snapMessage("a", "b", new Uint8Array([1, 2, 3]))];
  for (const m of all) {
    const frame = decodeFrame(encodeFrame({ message: encodeMessage(m, CLUSTER) }));
    t.truthy(frame.message, m.type);
    const back = decodeMessage(frame.message!, m.snapshot?.data);
    t.deepEqual(back, m, m.type);
    t.notThrows(() => validateMessage(back, "b"), m.type);
    t.is(frame.message!.cluster, CLUSTER);
  }
});

test("decodeMessage refuses unknown message and entry types", (t) => {
  const obj = wire(everyKind("a", "b")[0]!);
  const err = t.throws(() => decodeMessage({ ...obj, type: 99 }), { instanceOf: BadPeerMessageError });
  t.is(err?.field, "type");
  const frame = decodeFrame(encodeFrame({ message: { ...obj, type: 99 } }));
  t.throws(() => decodeMessage(frame.message!), { instanceOf: BadPeerMessageError, message: /type/ });
  const ents = decodeFrame(encodeFrame({ message: { ...obj, entries: [{ ...obj.entries[0]!, type: 7 }] } }));
  const err2 = t.throws(() => decodeMessage(ents.message!), { instanceOf: BadPeerMessageError });
  t.is(err2?.field, "entries[0].type");
  t.throws(() => decodeFrame(Buffer.from("definitely not protobuf \xff\xff")), {
    instanceOf: BadPeerMessageError,
  });
  t.throws(() => decodeFrame(Buffer.alloc(0)), { instanceOf: BadPeerMessageError, message: /neither/ });
});
