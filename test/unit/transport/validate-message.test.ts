/**
 * The gate before `RawNode.step()`: validateMessage refuses what a correct peer could not
 * have sent, naming the offending field, and honours the configured limits.
 */
import test from "ava";
import { type Message, message } from "../../../raft/index.ts";
import {
  BadPeerMessageError,
  DEFAULT_PEER_MESSAGE_LIMITS,
  validateMessage,
} from "../../../src/transport/validate-message.ts";
import { entry, everyKind, snapMessage } from "./peer-fixtures.ts";

test("validateMessage names the offending field", (t) => {
  const good = everyKind("a", "b")[0]!;
  t.notThrows(() => validateMessage(good, "b"));
  const bad = (m: unknown, field: string, limits = DEFAULT_PEER_MESSAGE_LIMITS) => {
    const err = t.throws(() => validateMessage(m as Message, "b", limits), {
      instanceOf: BadPeerMessageError,
    });
    t.is(err?.field, field, err?.message);
    t.true(err?.message.includes(field));
  };
  const e = good.entries;
  bad({ ...good, type: "bogus" }, "type");
  bad({ ...good, from: "" }, "from");
  bad({ ...good, to: "" }, "to");
  bad({ ...good, to: "c" }, "to");
  bad({ ...good, from: "b" }, "from");
  bad({ ...good, from: "x".repeat(300) }, "from");
  bad({ ...good, term: -1 }, "term");
  bad({ ...good, term: 1.5 }, "term");
  bad({ ...good, logTerm: Number.NaN }, "logTerm");
  bad({ ...good, index: 2 ** 53 }, "index");
  bad({ ...good, commit: "4" }, "commit");
  bad({ ...good, rejectHint: -3 }, "rejectHint");
  bad({ ...good, reject: 1 }, "reject");
  bad({ ...good, context: "x".repeat(70_000) }, "context");
  bad({ ...good, entries: [e[0], e[2]] }, "entries[1].index");
  bad({ ...good, index: 40 }, "entries[0].index");
  bad({ ...good, entries: [{ ...e[0]!, term: 8 }] }, "entries[0].term");
  bad({ ...good, entries: [e[0], { ...e[1]!, term: 5 }] }, "entries[1].term");
  bad({ ...good, entries: [{ ...e[0]!, type: "weird" }] }, "entries[0].type");
  bad({ ...good, entries: [{ ...e[0]!, data: "text" }] }, "entries[0].data");
  bad({ ...good, entries: [entry(42, 6, "x".repeat(100))] }, "entries[0].data", {
    ...DEFAULT_PEER_MESSAGE_LIMITS,
    maxEntryBytes: 64,
  });
  bad({ ...everyKind("a", "b")[6]!, entries: [entry(1, 1, "")] }, "entries");
  bad({ ...message({ type: "snap", from: "a", to: "b", term: 5 }) }, "snapshot");
  const snap = snapMessage("a", "b", new Uint8Array(10));
  t.notThrows(() => validateMessage(snap, "b"));
  bad({ ...everyKind("a", "b")[6]!, snapshot: snap.snapshot }, "snapshot");
  bad(
    { ...snap, snapshot: { ...snap.snapshot!, meta: { ...snap.snapshot!.meta, term: 6 } } },
    "snapshot.meta.term",
  );
  bad(
    { ...snap, snapshot: { ...snap.snapshot!, meta: { ...snap.snapshot!.meta, index: -1 } } },
    "snapshot.meta.index",
  );
  bad(
    {
      ...snap,
      snapshot: {
        ...snap.snapshot!,
        meta: { ...snap.snapshot!.meta, conf: { voters: ["a"], learners: ["a"] } },
      },
    },
    "snapshot.meta.conf.learners",
  );
  bad(
    {
      ...snap,
      snapshot: { ...snap.snapshot!, meta: { ...snap.snapshot!.meta, conf: { voters: [""], learners: [] } } },
    },
    "snapshot.meta.conf.voters[0]",
  );
  bad(snap, "snapshot.data", { ...DEFAULT_PEER_MESSAGE_LIMITS, maxSnapshotBytes: 5 });
});
