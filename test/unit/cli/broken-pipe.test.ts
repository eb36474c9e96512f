/**
 * The output writer of src/cli/broken-pipe.ts (set up once in src/main.ts for every command):
 * a reader that goes away ends the command once, whether the write fails at once or later;
 * other write errors still surface. The real executable in a pipe: test/cluster/cli-pipe.test.ts.
 */
import { EventEmitter } from "node:events";
import { Writable } from "node:stream";
import test from "ava";
import { isBrokenPipe, writerUntilReaderGone } from "../../../src/cli/broken-pipe.ts";

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`write ${code}`), { code, errno: -32, syscall: "write" });
}

/** A stream whose writes fail as a closed pipe's do: later, as an `error` event. */
function closedPipe(): { stream: Writable; written: string[] } {
  const written: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, callback) {
      written.push(chunk.toString());
      callback(errno("EPIPE"));
    },
  });
  return { stream, written };
}

test("isBrokenPipe: EPIPE only", (t) => {
  t.true(isBrokenPipe(errno("EPIPE")));
  t.false(isBrokenPipe(errno("ENOSPC")));
  t.false(isBrokenPipe(new Error("write EPIPE")));
  t.false(isBrokenPipe(null));
});

test("a write that fails later with EPIPE ends the output once, and later writes are dropped", async (t) => {
  const { stream, written } = closedPipe();
  let gone = 0;
  const ended = new Promise<void>((resolve) => {
    const write = writerUntilReaderGone(stream, () => {
      gone++;
      resolve();
    });
    write("line 1\n");
    write("line 2\n");
  });
  await ended;
  t.is(gone, 1);
  // The second write was queued behind the failing first and never reached the pipe.
  t.deepEqual(written, ["line 1\n"]);
  t.true(stream.destroyed);
});

test("after the reader is gone, nothing more is written and no error escapes", async (t) => {
  const { stream, written } = closedPipe();
  let gone = 0;
  let write!: (text: string) => void;
  await new Promise<void>((resolve) => {
    write = writerUntilReaderGone(stream, () => {
      gone++;
      resolve();
    });
    write("first\n");
  });
  // Writing to the destroyed stream would fail with ERR_STREAM_DESTROYED: nothing is written.
  write("second\n");
  stream.emit("error", errno("ERR_STREAM_DESTROYED"));
  t.is(gone, 1);
  t.deepEqual(written, ["first\n"]);
});

/** A stream whose write throws, as a synchronous one does. */
class ThrowingStream extends EventEmitter {
  constructor(private readonly code: string) {
    super();
  }
  write(): boolean {
    throw errno(this.code);
  }
}

test("a write that throws EPIPE at once ends the output once", (t) => {
  let gone = 0;
  const write = writerUntilReaderGone(new ThrowingStream("EPIPE") as unknown as Writable, () => gone++);
  write("a\n");
  write("b\n");
  t.is(gone, 1);
});

test("other write errors are not taken for a closed pipe", (t) => {
  let gone = 0;
  const stream = new ThrowingStream("ENOSPC");
  const write = writerUntilReaderGone(stream as unknown as Writable, () => gone++);
  t.throws(() => write("a\n"), { message: "write ENOSPC" });
  t.throws(() => stream.emit("error", errno("EIO")), { message: "write EIO" });
  t.is(gone, 0);
});
