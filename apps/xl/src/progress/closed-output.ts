/**
 * A reader that goes away (`xl stream-dump FILE | head -1`) ends xl's output, not xl's work,
 * and leaves no trace. coreutils die of SIGPIPE there; Node ignores SIGPIPE, so a write to a
 * closed pipe fails with EPIPE instead, and that error, unhandled, printed a stack trace and
 * exited 1. Here it only marks the stream closed: later writes are dropped, a command whose
 * only product is output may stop early (`outputClosed`), and one with work in flight (a
 * save, a migration) finishes it, or rolls it back, as if its progress had been read.
 */

/** Makes EPIPE on `stream` (process.stdout or stderr) end its output quietly. */
export function endQuietlyOnClosedPipe(stream: NodeJS.WritableStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    // Any other write error is a real failure, and stays as loud as it was.
    if (err.code !== 'EPIPE') throw err;
  });
}

/** Whether nobody reads `stream` any more: a failed write destroyed it. */
export function outputClosed(stream: NodeJS.WritableStream): boolean {
  return (stream as { destroyed?: boolean }).destroyed === true;
}
