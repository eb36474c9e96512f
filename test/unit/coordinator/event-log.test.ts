/**
 * The event log section (src/coordinator/event-log.ts, event-chain.ts, event-fields.ts,
 * event-log-snapshot.ts; src/contract/events.ts, canonical-json.ts) against the "Events" section
 * of docs/events.md: canonical JSON and the exact hash definition, the chain and what
 * `conclave audit verify` reports for altered, removed and reordered events, retention with an
 * anchor, snapshots, apply-order and field validation, and determinism across electors.
 */
import { createHash } from "node:crypto";
import test from "ava";
import fc from "fast-check";
import { canonicalJson } from "../../../src/contract/canonical-json.ts";
import {
  EVENT_TYPES,
  type Event,
  type EventDetails,
  type EventType,
  isIsoUtcTime,
} from "../../../src/contract/events.ts";
import { eventHash, GENESIS_ANCHOR, verifyChain, ZERO_HASH } from "../../../src/coordinator/event-chain.ts";
import {
  BadEventError,
  MAX_DETAILS_DEPTH,
  validateEventFields,
} from "../../../src/coordinator/event-fields.ts";
import { type EventAppendInput, EventLog } from "../../../src/coordinator/event-log.ts";
import { BadEventLogSnapshotError } from "../../../src/coordinator/event-log-snapshot.ts";

const HASH_MISMATCH = /^hash mismatch: stored [0-9a-f]{64}, computed [0-9a-f]{64}$/;

/** `n` varied event inputs at increasing indexes with gaps (other commands commit in between). */
function inputs(n: number, firstIndex = 3): EventAppendInput[] {
  const out: EventAppendInput[] = [];
  let index = firstIndex;
  for (let i = 0; i < n; i++) {
    const type = EVENT_TYPES[i % EVENT_TYPES.length] as EventType;
    out.push({
      index,
      term: 1 + Math.floor(i / 4),
      time: new Date(Date.UTC(2024, 4, 1, 12, 0, i)).toISOString(),
      type,
      member: i % 3 === 0 ? null : `web${i % 3}`,
      service: type.startsWith("master") ? "db" : null,
      details: i % 2 === 0 ? {} : { attempt: i, nested: { list: [i, "x", null, true] } },
    });
    index += 1 + (i % 3);
  }
  return out;
}

function filled(n: number, maxEvents?: number): EventLog {
  const log = new EventLog(maxEvents === undefined ? {} : { maxEvents });
  for (const input of inputs(n)) log.append(input);
  return log;
}

/** A deep copy of a JSON value with every object's keys inserted in a shuffled order. */
function reorderKeys(v: unknown, next: () => number): unknown {
  if (Array.isArray(v)) return v.map((x) => reorderKeys(x, next));
  if (typeof v !== "object" || v === null) return v;
  const entries = Object.entries(v);
  for (let i = entries.length - 1; i > 0; i--) {
    const j = next() % (i + 1);
    [entries[i], entries[j]] = [entries[j]!, entries[i]!];
  }
  // fromEntries defines own properties, so a "__proto__" key stays a key.
  return Object.fromEntries(entries.map(([k, x]) => [k, reorderKeys(x, next)]));
}

/** Snapshot data as parsed back from JSON, loosely typed so tests can damage it. */
interface SnapshotJson {
  version: unknown;
  anchor: unknown;
  events: Record<string, unknown>[];
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 8;
  };
}

test("canonicalJson sorts keys recursively and drops whitespace", (t) => {
  const a = { b: 1, a: { d: [3, { f: 1, e: 2 }], c: "x y" } };
  const b = { a: { c: "x y", d: [3, { e: 2, f: 1 }] }, b: 1 };
  t.is(canonicalJson(a), '{"a":{"c":"x y","d":[3,{"e":2,"f":1}]},"b":1}');
  t.is(canonicalJson(b), canonicalJson(a));
  t.not(JSON.stringify(a), JSON.stringify(b)); // the plain spelling depends on insertion order
  t.is(canonicalJson(JSON.parse('{"__proto__":1,"a":2}')), '{"__proto__":1,"a":2}');
  t.is(canonicalJson([1.5, -0, 1e21, "é\n", false, null]), '[1.5,0,1e+21,"é\\n",false,null]');
});

test("canonicalJson refuses what JSON cannot represent instead of dropping it", (t) => {
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  for (const [value, message] of [
    [{ a: undefined }, /\$\.a is undefined/],
    [{ a: [1, Number.NaN] }, /\$\.a\[1\] is NaN/],
    [{ a: Number.POSITIVE_INFINITY }, /\$\.a is Infinity/],
    [{ a: new Date(0) }, /\$\.a is not a plain object/],
    [{ a: 1n }, /\$\.a is bigint/],
    [cyclic, /\$\.self refers back/],
  ] as const) {
    t.throws(() => canonicalJson(value), { instanceOf: TypeError, message }, String(message));
  }
});

test("canonical JSON and event hash do not depend on key insertion order (property)", (t) => {
  fc.assert(
    fc.property(fc.dictionary(fc.string(), fc.jsonValue()), fc.integer(), (details, seed) => {
      const shuffled = reorderKeys(details, lcg(seed)) as typeof details;
      const c = canonicalJson(details);
      if (canonicalJson(shuffled) !== c) return false;
      if (canonicalJson(JSON.parse(c)) !== c) return false; // a fixed point: re-parsing changes nothing
      const base = {
        id: 7,
        term: 2,
        time: "2024-05-01T12:00:00.000Z",
        type: "member-down" as const,
      };
      const e1 = {
        ...base,
        member: "web1",
        service: null,
        details: details as EventDetails,
      };
      const e2 = {
        details: shuffled as EventDetails,
        service: null,
        member: "web1",
        ...base,
      };
      return eventHash(ZERO_HASH, e1) === eventHash(ZERO_HASH, e2);
    }),
    { numRuns: 300 },
  );
  t.pass();
});

test("the hash is SHA-256 of prevHash, a newline and the canonical JSON without hash", (t) => {
  const log = new EventLog();
  const e1 = log.append({
    index: 5,
    term: 2,
    time: "2024-01-02T03:04:05.000Z",
    type: "member-down",
    member: "web1",
    details: { why: "timeout", after_ms: 1500 },
  });
  const body1 =
    '{"details":{"after_ms":1500,"why":"timeout"},"id":5,"member":"web1","service":null,' +
    '"term":2,"time":"2024-01-02T03:04:05.000Z","type":"member-down"}';
  const sha = (s: string) => createHash("sha256").update(s, "utf8").digest("hex");
  t.is(e1.hash, sha(`${"0".repeat(64)}\n${body1}`));
  t.regex(e1.hash, /^[0-9a-f]{64}$/);
  const e2 = log.append({
    index: 9,
    term: 3,
    time: "2024-01-02T03:04:06.000Z",
    type: "leader-elected",
  });
  const body2 =
    '{"details":{},"id":9,"member":null,"service":null,"term":3,"time":"2024-01-02T03:04:06.000Z",' +
    '"type":"leader-elected"}';
  t.is(e2.hash, sha(`${e1.hash}\n${body2}`));
  t.is(eventHash(e1.hash, e2), e2.hash); // a full event is accepted: its hash field is not hashed
  t.deepEqual(Object.keys(e2), ["id", "term", "time", "type", "member", "service", "details", "hash"]);
});

test("appended events form a chain that verifies; the log answers since/get/last/size", (t) => {
  const log = filled(40);
  const events = log.since(0);
  t.is(log.size, 40);
  t.is(events.length, 40);
  t.deepEqual(verifyChain(events), { ok: true, checked: 40 });
  let prev = ZERO_HASH;
  for (const e of events) {
    t.is(e.hash, eventHash(prev, e));
    prev = e.hash;
  }
  const e10 = events[10]!;
  t.is(log.get(e10.id), e10);
  t.is(log.get(e10.id + 1), undefined); // the gap after it holds other commands
  t.is(log.last(), events[39]);
  t.deepEqual(log.head, { id: events[39]!.id, hash: events[39]!.hash });
  t.deepEqual(log.since(e10.id), events.slice(11));
  t.deepEqual(log.since(e10.id, { limit: 3 }), events.slice(11, 14));
  t.deepEqual(
    log.since(0, { type: "member-down" }).map((e) => e.id),
    events.filter((e) => e.type === "member-down").map((e) => e.id),
  );
  t.is(log.since(0, { type: "member-down" }).length, 3);
  t.deepEqual(log.since(events[39]!.id), []);
  t.deepEqual(verifyChain([]), { ok: true, checked: 0 });
});

test("stored events are frozen: a caller cannot break the chain in place", (t) => {
  const log = filled(3);
  const e = log.since(0)[1]!;
  t.throws(() => {
    (e as { member: string | null }).member = "evil";
  });
  t.throws(() => {
    (e.details.nested as { list: unknown[] }).list.push(1);
  });
  const details: Record<string, number> = { a: 1 };
  const appended = log.append({
    index: 100,
    term: 9,
    time: "2024-05-01T00:00:00.000Z",
    type: "checks-updated",
    details,
  });
  details.a = 2;
  t.deepEqual(appended.details, { a: 1 });
  t.true(verifyChain(log.since(0)).ok);
});

test("an altered field is reported at that event's own id", (t) => {
  const events = filled(12).since(0);
  const alterations: [string, (e: Event) => Event][] = [
    ["details", (e) => ({ ...e, details: { ...e.details, extra: 1 } })],
    ["details value", (e) => ({ ...e, details: { attempt: 999 } })],
    ["member", (e) => ({ ...e, member: e.member === "evil" ? "web9" : "evil" })],
    ["member to null", (e) => ({ ...e, member: e.member === null ? "web1" : null })],
    ["service", (e) => ({ ...e, service: "other" })],
    ["time", (e) => ({ ...e, time: "2030-01-01T00:00:00.000Z" })],
    [
      "type",
      (e) => ({
        ...e,
        type: e.type === "member-up" ? "member-down" : "member-up",
      }),
    ],
    ["term", (e) => ({ ...e, term: e.term + 1 })],
    ["stored hash", (e) => ({ ...e, hash: ZERO_HASH })],
  ];
  for (const [what, alter] of alterations) {
    for (const at of [0, 5, 11]) {
      const copy = events.slice();
      copy[at] = alter(events[at]!);
      const verdict = verifyChain(copy);
      t.like(verdict, { ok: false, id: events[at]!.id }, `${what} at position ${at}`);
      if (!verdict.ok) t.regex(verdict.reason, HASH_MISMATCH);
    }
  }
});

test("a re-hashed alteration still breaks the link to the next event", (t) => {
  const events = filled(8).since(0);
  const copy = events.slice();
  const altered = { ...events[3]!, member: "evil" };
  copy[3] = { ...altered, hash: eventHash(events[2]!.hash, altered) };
  t.like(verifyChain(copy), { ok: false, id: events[4]!.id });
});

test("a deleted event is reported at the event after the gap", (t) => {
  const events = filled(10).since(0);
  const withoutMiddle = [...events.slice(0, 4), ...events.slice(5)];
  const v = verifyChain(withoutMiddle);
  t.like(v, { ok: false, id: events[5]!.id });
  if (!v.ok) t.regex(v.reason, HASH_MISMATCH);
  t.like(verifyChain(events.slice(1)), { ok: false, id: events[1]!.id }); // the first one, without anchor
  // Cutting the tail is not visible in the chain itself: the head must be compared instead.
  t.deepEqual(verifyChain(events.slice(0, 7)), { ok: true, checked: 7 });
});

test("reordered and duplicated events are reported", (t) => {
  const events = filled(10).since(0);
  const swapped = events.slice();
  [swapped[4], swapped[5]] = [events[5]!, events[4]!];
  t.like(verifyChain(swapped), { ok: false, id: events[5]!.id });
  t.like(verifyChain(events.slice().reverse()), {
    ok: false,
    id: events[9]!.id,
  });
  const duplicated = [...events.slice(0, 5), events[4]!, ...events.slice(5)];
  t.deepEqual(verifyChain(duplicated), {
    ok: false,
    id: events[4]!.id,
    reason: `id ${events[4]!.id} does not follow ${events[4]!.id}`,
  });
  // Same order, but an id rewritten to go backwards.
  const backwards = events.slice();
  backwards[6] = { ...events[6]!, id: events[5]!.id - 1 };
  t.like(verifyChain(backwards), {
    ok: false,
    id: events[5]!.id - 1,
    reason: `id ${events[5]!.id - 1} does not follow ${events[5]!.id}`,
  });
});

test("retention keeps the newest maxEvents and an anchor the rest still verifies from", (t) => {
  const all = filled(12).since(0);
  const log = filled(12, 5);
  t.is(log.size, 5);
  const kept = log.since(0);
  t.deepEqual(
    kept.map((e) => e.id),
    all.slice(7).map((e) => e.id),
  );
  t.deepEqual(kept, all.slice(7)); // retention changes no hash
  t.deepEqual(log.anchor, { id: all[6]!.id, hash: all[6]!.hash });
  t.is(log.get(all[6]!.id), undefined);
  t.deepEqual(log.get(all[7]!.id), all[7]);
  t.deepEqual(verifyChain(kept, log.anchor), { ok: true, checked: 5 });
  t.like(verifyChain(kept), { ok: false, id: all[7]!.id }); // not from genesis any more
  for (const at of [0, 2, 4]) {
    const copy = kept.slice();
    copy[at] = { ...kept[at]!, details: { tampered: true } };
    t.like(verifyChain(copy, log.anchor), { ok: false, id: kept[at]!.id });
  }
  t.like(verifyChain(kept, { ...log.anchor, hash: ZERO_HASH }), {
    ok: false,
    id: kept[0]!.id,
  });
  t.like(verifyChain(kept, { ...log.anchor, id: kept[0]!.id }), {
    ok: false,
    id: kept[0]!.id,
    reason: `id ${kept[0]!.id} does not follow ${kept[0]!.id}`,
  });
  // Appending past the limit repeatedly keeps it bounded and verifiable.
  let index = log.head.id;
  for (let i = 0; i < 50; i++) {
    log.append({
      index: ++index,
      term: 9,
      time: "2024-05-02T00:00:00.000Z",
      type: "member-up",
      member: "web1",
    });
    t.true(log.size <= 5);
  }
  t.is(log.anchor.id, index - 5);
  t.deepEqual(verifyChain(log.since(0), log.anchor), { ok: true, checked: 5 });
  t.throws(() => new EventLog({ maxEvents: 0 }), { instanceOf: RangeError });
});

test("snapshot and restore round-trip through JSON, and appending continues alike", (t) => {
  for (const [n, max] of [
    [0, undefined],
    [15, undefined],
    [15, 6],
  ] as const) {
    const log = filled(n, max);
    const copy = new EventLog(max === undefined ? {} : { maxEvents: max });
    copy.restore(JSON.parse(JSON.stringify(log.snapshot())));
    t.deepEqual(copy.since(0), log.since(0));
    t.deepEqual(copy.anchor, log.anchor);
    t.deepEqual(copy.head, log.head);
    const next = {
      index: log.head.id + 4,
      term: 7,
      time: "2024-06-01T00:00:00.000Z",
      type: "member-left",
    } as const;
    t.is(copy.append(next).hash, log.append(next).hash);
  }
  // A smaller limit trims on restore and moves the anchor.
  const big = filled(10);
  const small = new EventLog({ maxEvents: 4 });
  small.restore(JSON.parse(JSON.stringify(big.snapshot())));
  t.deepEqual(small.since(0), big.since(0).slice(6));
  t.deepEqual(small.anchor, {
    id: big.since(0)[5]!.id,
    hash: big.since(0)[5]!.hash,
  });
  small.clear();
  t.is(small.size, 0);
  t.deepEqual(small.anchor, GENESIS_ANCHOR);
});

test("a damaged snapshot is refused with a message naming the problem, and nothing changes", (t) => {
  const good = () => JSON.parse(JSON.stringify(filled(6).snapshot())) as SnapshotJson;
  /** A damage that edits event `i` of the snapshot in place. */
  const atEvent =
    (i: number, edit: (e: Record<string, unknown>) => void) =>
    (s: SnapshotJson): unknown => {
      edit(s.events[i]!);
      return s;
    };
  const damages: [string, (s: SnapshotJson) => unknown, RegExp][] = [
    ["not an object", () => [1], /must be an object/],
    ["version", (s) => ({ ...s, version: 2 }), /unknown version 2/],
    ["anchor missing", (s) => ({ ...s, anchor: undefined }), /anchor must be an object/],
    [
      "anchor hash",
      (s) => ({ ...s, anchor: { id: 0, hash: "XYZ" } }),
      /anchor\.hash must be 64 lowercase hex/,
    ],
    [
      "anchor id",
      (s) => ({ ...s, anchor: { id: -1, hash: ZERO_HASH } }),
      /anchor\.id must be a non-negative/,
    ],
    ["events", (s) => ({ ...s, events: {} }), /events must be an array/],
    [
      "event not object",
      (s) => ({ ...s, events: [...s.events.slice(0, 2), "x", ...s.events.slice(3)] }),
      /events\[2\] must be an object/,
    ],
    ["missing field", atEvent(2, (e) => delete e.member), /events\[2\] \(id \d+\) has no member/],
    [
      "unknown field",
      atEvent(1, (e) => {
        e.color = "red";
      }),
      /events\[1\] \(id \d+\) has unknown field color/,
    ],
    [
      "type",
      atEvent(3, (e) => {
        e.type = "member-exploded";
      }),
      /events\[3\].*unknown event type "member-exploded"/,
    ],
    [
      "time",
      atEvent(3, (e) => {
        e.time = "yesterday";
      }),
      /events\[3\].*event time: "yesterday"/,
    ],
    [
      "details",
      atEvent(0, (e) => {
        e.details = [1];
      }),
      /events\[0\].*event details: must be a plain JSON object/,
    ],
    [
      "id",
      atEvent(0, (e) => {
        e.id = 1.5;
      }),
      /events\[0\].*id must be a positive integer/,
    ],
    [
      "hash format",
      atEvent(4, (e) => {
        e.hash = "abc";
      }),
      /events\[4\].*hash must be 64 lowercase hex/,
    ],
    [
      "tampered",
      atEvent(4, (e) => {
        e.details = { x: 1 };
      }),
      /chain broken at id \d+: hash mismatch/,
    ],
    ["order", (s) => ({ ...s, events: s.events.slice().reverse() }), /chain broken at id \d+/],
  ];
  for (const [what, damage, message] of damages) {
    const log = filled(3);
    const before = log.snapshot();
    const error = t.throws(
      () => log.restore(damage(good())),
      { instanceOf: BadEventLogSnapshotError, message },
      what,
    );
    t.is(error?.name, "BadEventLogSnapshotError");
    t.deepEqual(log.snapshot(), before, `${what}: unchanged`);
  }
  // The tampered case names the exact event.
  const s = good();
  const tampered = s.events[4]!;
  tampered.member = "evil";
  t.throws(() => new EventLog().restore(s), {
    message: new RegExp(`chain broken at id ${tampered.id as number}: `),
  });
});

test("append refuses an index that does not follow the head, changing nothing", (t) => {
  const log = filled(5);
  const head = log.head;
  const base = {
    term: 3,
    time: "2024-05-01T00:00:00.000Z",
    type: "member-up",
  } as const;
  t.throws(() => log.append({ ...base, index: head.id }), {
    message: `event log: index ${head.id} does not follow ${head.id}; events must be appended in log order`,
  });
  t.throws(() => log.append({ ...base, index: head.id - 1 }), {
    message: /does not follow/,
  });
  t.throws(() => log.append({ ...base, index: 0.5 + head.id }), {
    message: /is not a log index/,
  });
  t.throws(() => log.append({ ...base, index: head.id + 1, term: -1 }), {
    message: /is not a term/,
  });
  t.deepEqual(log.head, head);
  t.is(log.size, 5);
  // After retention the anchor is the floor.
  const small = filled(5, 2);
  t.throws(() => small.append({ ...base, index: small.anchor.id }), {
    message: /does not follow/,
  });
  const next = small.head.id + 1;
  t.is(small.append({ ...base, index: next }).id, next);
});

test("event fields are validated with a named BadEventError and a clean log", (t) => {
  const ok = {
    time: "2024-02-29T23:59:59.999Z",
    type: "master-promoted",
    service: "db",
    details: { epoch: 4 },
  };
  t.deepEqual(validateEventFields(ok), { ...ok, member: null });
  t.deepEqual(validateEventFields({ time: ok.time, type: "checks-updated" }), {
    time: ok.time,
    type: "checks-updated",
    member: null,
    service: null,
    details: {},
  });
  let deep: Record<string, unknown> = { leaf: 1 };
  for (let i = 1; i < MAX_DETAILS_DEPTH; i++) deep = { d: deep };
  t.notThrows(() => validateEventFields({ ...ok, details: deep })); // exactly at the limit
  const bad: [string, Record<string, unknown> | unknown, RegExp][] = [
    ["time", { ...ok, time: "2024-02-30T00:00:00.000Z" }, /event time: "2024-02-30/],
    ["time", { ...ok, time: "2023-02-29T00:00:00.000Z" }, /event time/],
    ["time", { ...ok, time: "2024-05-01T12:00:00.000+01:00" }, /event time/],
    ["time", { ...ok, time: "2024-05-01T12:00:00Z" }, /event time/],
    ["time", { ...ok, time: "2024-05-01T24:00:00.000Z" }, /event time/],
    ["time", { ...ok, time: 1714564800000 }, /event time: 1714564800000 is not an ISO-8601 UTC time/],
    ["time", { ...ok, time: undefined }, /event time/],
    ["type", { ...ok, type: "member-exploded" }, /event type: unknown event type "member-exploded"/],
    ["type", { ...ok, type: undefined }, /event type/],
    ["member", { ...ok, member: 7 }, /event member: must be a non-empty string or null/],
    ["member", { ...ok, member: "" }, /event member/],
    ["service", { ...ok, service: ["db"] }, /event service: must be a non-empty string or null/],
    ["details", { ...ok, details: null }, /event details: must be a plain JSON object/],
    ["details", { ...ok, details: "x" }, /event details: must be a plain JSON object/],
    ["details", { ...ok, details: [1] }, /event details: must be a plain JSON object/],
    ["details", { ...ok, details: new Date(0) }, /event details: must be a plain JSON object/],
    ["details", { ...ok, details: { a: { b: Number.NaN } } }, /event details: details\.a\.b is NaN/],
    ["details", { ...ok, details: { a: [undefined] } }, /event details: details\.a\[0\] is undefined/],
    ["details", { ...ok, details: { at: new Date(0) } }, /event details: details\.at is not a plain object/],
    ["details", { ...ok, details: { d: deep } }, /nested deeper than 32 levels/],
    ["colour", { ...ok, colour: "red" }, /event colour: is not an event field/],
    ["fields", "member-down", /event fields: /],
  ];
  for (const [field, value, message] of bad) {
    const error = t.throws(
      () => validateEventFields(value),
      { instanceOf: BadEventError, message },
      String(message),
    );
    t.is(error?.field, field, String(message));
  }
  const log = filled(2);
  const head = log.head;
  const e = t.throws(
    () =>
      log.append({
        index: head.id + 1,
        term: 1,
        time: ok.time,
        type: "nope" as EventType,
      }),
    { instanceOf: BadEventError },
  );
  t.is(e?.field, "type");
  t.deepEqual(log.head, head);
  t.true(isIsoUtcTime(new Date(0).toISOString()));
  t.false(isIsoUtcTime("1900-02-29T00:00:00.000Z"));
  t.true(isIsoUtcTime("2000-02-29T00:00:00.000Z"));
});

test("two logs fed the same inputs compute identical hashes (determinism)", (t) => {
  fc.assert(
    fc.property(
      fc.array(fc.dictionary(fc.string(), fc.jsonValue()), { maxLength: 20 }),
      fc.integer(),
      (details, seed) => {
        const a = new EventLog();
        const b = new EventLog({ maxEvents: 3 });
        const next = lcg(seed);
        details.forEach((d, i) => {
          const input = {
            index: 2 * i + 1,
            term: 1,
            time: "2024-05-01T00:00:00.000Z",
            type: "member-joined",
            member: `m${i}`,
          } as const;
          a.append({ ...input, details: d as EventDetails });
          b.append({ ...input, details: reorderKeys(d, next) as EventDetails });
        });
        const ha = a.since(0).map((e) => e.hash);
        const hb = b.since(0).map((e) => e.hash);
        return hb.every((h, i) => h === ha[ha.length - hb.length + i]) && a.head.hash === b.head.hash;
      },
    ),
    { numRuns: 100 },
  );
  // And a fixed run, compared in full.
  const x = filled(25);
  const y = filled(25);
  t.deepEqual(
    x.since(0).map((e) => e.hash),
    y.since(0).map((e) => e.hash),
  );
  t.not(filled(24).head.hash, x.head.hash);
});
