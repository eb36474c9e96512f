/**
 * Output capture (src/process/output-tail.ts) without processes: the ring keeps exactly the
 * last bytes of any sequence of writes, and the text made of them drops a character cut by
 * truncation. What real processes print is covered in process-run.test.ts.
 */
import test from "ava";
import fc from "fast-check";
import { OutputTail, outputText } from "../../../src/process/output-tail.ts";
import { RunOptionsError } from "../../../src/process/run-options.ts";

test("outputText drops a character cut by truncation instead of showing a replacement", (t) => {
  const bytes = Buffer.from("é✓z", "utf8").subarray(1); // a stray continuation byte, then ✓z
  t.is(outputText(bytes, true), "✓z");
  t.is(outputText(bytes, false), "\uFFFD✓z");
  t.is(outputText(Buffer.from([0xc2, 0x85, 0x7f]), false), "\uFFFD\uFFFD"); // C1 NEL and DEL
});

test("OutputTail keeps exactly the last bytes of any sequence of writes", (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 16 }),
      fc.array(fc.uint8Array({ maxLength: 40 }), { maxLength: 20 }),
      (capacity, chunks) => {
        const tail = new OutputTail(capacity);
        for (const c of chunks) tail.write(c);
        const all = Buffer.concat(chunks);
        return (
          tail.bytes().equals(all.subarray(Math.max(0, all.length - capacity))) &&
          tail.totalBytes === all.length &&
          tail.truncated === all.length > capacity
        );
      },
    ),
  );
  t.pass();
});

test("OutputTail refuses a capacity that is not a positive integer", (t) => {
  for (const capacity of [0, -1, 1.5, Number.NaN]) {
    t.throws(() => new OutputTail(capacity), { instanceOf: RunOptionsError }, String(capacity));
  }
});
