/**
 * Output whose reader may go away: `conclave events --json | head -1`. When the reader closes
 * the pipe, writing fails with EPIPE, and Node, which ignores SIGPIPE, would throw it as an
 * uncaught error (a stack trace, exit 1). Like git and etcdctl, the command instead ends
 * quietly: main.ts decides how (exit 0 for a client command). Set up once, in main.ts, for
 * every command.
 */

/** Whether `e` is the error of writing to a pipe (or socket) whose reader has gone. */
export function isBrokenPipe(e: unknown): boolean {
  return (e as NodeJS.ErrnoException | null)?.code === "EPIPE";
}

/**
 * A write function for `stream` that calls `onGone` once when the reader goes away, whether
 * the write fails at once (a synchronous stream throws) or later (an `error` event), and
 * writes nothing after that. Any other write error is thrown as before.
 */
export function writerUntilReaderGone(
  stream: NodeJS.WritableStream,
  onGone: () => void,
): (text: string) => void {
  let gone = false;
  const readerGone = () => {
    if (gone) return;
    gone = true;
    onGone();
  };
  stream.on("error", (e: unknown) => {
    // Once gone, a stream may still report the writes that were under way.
    if (gone || isBrokenPipe(e)) readerGone();
    else throw e;
  });
  return (text) => {
    if (gone) return;
    try {
      stream.write(text);
    } catch (e) {
      if (isBrokenPipe(e)) readerGone();
      else throw e;
    }
  };
}
