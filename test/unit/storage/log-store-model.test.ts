/**
 * LevelLogStore against its model: random persists, compactions and reopens give the same
 * observable state as MemoryStorage fed the same batches, and only the live log is on disk.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import test from "ava";
import type { ClassicLevel } from "classic-level";
import fc from "fast-check";
import {
  type ConfState,
  type Entry,
  type HardState,
  MemoryStorage,
  type Snapshot,
} from "../../../raft/index.ts";
import { LevelLogStore } from "../../../src/storage/log-store-level.ts";
import { CONF, observe } from "./store-fixtures.ts";

// ---- Model-based: the same batches give the same state as MemoryStorage ----

const batchArb = fc.record(
  {
    snapshot: fc.record({ ahead: fc.integer({ min: 1, max: 6 }), termBump: fc.nat(2), size: fc.nat(40) }),
    entries: fc.record({
      back: fc.nat(6),
      count: fc.integer({ min: 0, max: 5 }),
      termBump: fc.nat(2),
      size: fc.nat(120),
      conf: fc.boolean(),
    }),
    hardState: fc.record({
      termBump: fc.nat(1),
      commit: fc.double({ min: 0, max: 1, noNaN: true }),
      vote: fc.constantFrom("", "a", "b"),
    }),
  },
  { requiredKeys: [] },
);

const opArb = fc.oneof(
  { weight: 6, arbitrary: batchArb.map((b) => ({ kind: "persist" as const, b })) },
  {
    weight: 2,
    arbitrary: fc
      .record({ at: fc.double({ min: 0, max: 1, noNaN: true }), size: fc.nat(30), learner: fc.boolean() })
      .map((c) => ({ kind: "compact" as const, c })),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "reopen" as const }) },
);

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (seed * 31 + i * 7) & 0xff;
  return out;
}

test("many persists and compactions match MemoryStorage fed the same batches, before and after reopen", async (t) => {
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.array(opArb, { minLength: 1, maxLength: 25 }), async (founder, ops) => {
      runs++;
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "conclave-logstore-prop-"));
      let store = await LevelLogStore.open(founder ? { dir, bootstrap: CONF } : { dir });
      try {
        const mem = new MemoryStorage(founder ? { conf: CONF } : {});
        let step = 0;
        for (const op of ops) {
          step++;
          if (op.kind === "reopen") {
            await store.close();
            store = await LevelLogStore.open({ dir });
          } else if (op.kind === "compact") {
            const snapIdx = mem.snapshot().meta.index;
            const last = mem.lastIndex();
            if (last <= snapIdx) continue;
            const at = Math.min(last, snapIdx + 1 + Math.floor(op.c.at * (last - snapIdx)));
            const conf: ConfState = op.c.learner ? { voters: ["a", "b"], learners: ["c"] } : CONF;
            const data = bytes(op.c.size, step);
            mem.createSnapshot(at, conf, data);
            await store.createSnapshot(at, conf, data);
          } else {
            const b = op.b;
            let snapshot: Snapshot | undefined;
            if (b.snapshot) {
              const cur = mem.snapshot().meta;
              snapshot = {
                meta: {
                  index: cur.index + b.snapshot.ahead,
                  term: cur.term + b.snapshot.termBump,
                  conf: CONF,
                },
                data: bytes(b.snapshot.size, step),
              };
            }
            // The log the entries apply to: the new snapshot's (empty) or the current one.
            const offset = snapshot ? snapshot.meta.index : mem.firstIndex() - 1;
            const last = snapshot ? snapshot.meta.index : mem.lastIndex();
            const termAt = (i: number) => (snapshot ? snapshot.meta.term : mem.term(i));
            const entries: Entry[] = [];
            if (b.entries && b.entries.count > 0) {
              const start = Math.max(1, last + 1 - b.entries.back);
              const term = termAt(Math.max(start - 1, offset)) + b.entries.termBump;
              for (let k = 0; k < b.entries.count; k++) {
                const index = start + k;
                entries.push({
                  index,
                  term,
                  type: b.entries.conf && k === 0 ? "conf" : "normal",
                  data: bytes(b.entries.size, index + step),
                });
              }
            }
            const newLast = Math.max(offset, entries.length > 0 ? entries[entries.length - 1]!.index : last);
            let hardState: HardState | undefined;
            if (b.hardState) {
              const cur = mem.hardState();
              hardState = {
                term: cur.term + b.hardState.termBump,
                vote: b.hardState.vote,
                commit: Math.floor(b.hardState.commit * newLast),
              };
            }
            if (snapshot) mem.applySnapshot(snapshot);
            mem.append(entries);
            if (hardState) mem.setHardState(hardState);
            await store.persist({
              entries,
              ...(snapshot ? { snapshot } : {}),
              ...(hardState ? { hardState } : {}),
            });
          }
          // assert (not t.*) so that a failure throws and fast-check shrinks it.
          assert.deepStrictEqual(observe(store), observe(mem), `after op ${step}`);
        }
        await store.close();
        store = await LevelLogStore.open({ dir });
        assert.deepStrictEqual(observe(store), observe(mem), "after the final reopen");
        // Only the live log is on disk.
        const db = Reflect.get(store, "db") as ClassicLevel<Buffer, Buffer>;
        let entryKeys = 0;
        for await (const _ of db.keys({ gte: Buffer.from("e"), lt: Buffer.from("f") })) entryKeys++;
        assert.equal(entryKeys, mem.lastIndex() - mem.firstIndex() + 1);
      } finally {
        await store.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 40 },
  );
  t.true(runs >= 40);
});
