/**
 * Write-behind flushing for a file written through a WriteStream: once `every` bytes have been
 * written since the last flush began, an fdatasync starts in the background (on the thread
 * pool, while writing goes on), so the disk works during the transfer and the final fsync of
 * an atomic save only has the tail left. At most one flush is in flight; a failed flush is
 * kept and reported by settle().
 */
import * as fs from 'node:fs';

export const WRITE_BEHIND_BYTES = 64 * 1024 * 1024;

/** The node:fs calls a test may replace (to fail a flush, or hold a close). */
export interface WriteBehindIo {
  close: typeof fs.close;
  fdatasync: typeof fs.fdatasync;
}

export class WriteBehind {
  #pending = 0;
  #inFlight: Promise<void> | undefined;
  #failure: NodeJS.ErrnoException | undefined;
  /** Background flushes started so far. */
  flushes = 0;

  readonly #io: WriteBehindIo;

  /** `onFailure`: told of the first failed flush at once (AtomicFile then destroys its stream). */
  constructor(
    readonly every = WRITE_BEHIND_BYTES,
    io: Partial<WriteBehindIo> = {},
    readonly onFailure?: (err: NodeJS.ErrnoException) => void,
  ) {
    this.#io = { close: fs.close, fdatasync: fs.fdatasync, ...io };
  }

  /** The `fs` override for createWriteStream: node's own calls, with writes counted. */
  get fs() {
    const wrote = (fd: number, n: number) => this.#wrote(fd, n);
    const { close } = this.#io;
    const { open, write, writev } = fs;
    return {
      open,
      // Never close under a flush still queued on the thread pool: it would find the fd
      // closed (EBADF), or worse, reused by another file.
      close: ((fd: number, cb: (err: NodeJS.ErrnoException | null) => void) => {
        const inFlight = this.#inFlight;
        if (inFlight === undefined) close(fd, cb);
        else void inFlight.then(() => close(fd, cb));
      }) as typeof fs.close,
      write: ((fd: number, buffer: Buffer, ...rest: unknown[]) => {
        const cb = rest.pop() as (err: NodeJS.ErrnoException | null, n: number, b: Buffer) => void;
        (write as unknown as (...a: unknown[]) => void)(
          fd,
          buffer,
          ...rest,
          (err: NodeJS.ErrnoException | null, n: number, b: Buffer) => {
            if (err === null) wrote(fd, n);
            cb(err, n, b);
          },
        );
      }) as typeof fs.write,
      writev: ((
        fd: number,
        buffers: NodeJS.ArrayBufferView[],
        position: number | null,
        cb: (err: NodeJS.ErrnoException | null, n: number, b: NodeJS.ArrayBufferView[]) => void,
      ) => {
        writev(fd, buffers, position, (err, n, b) => {
          if (err === null) wrote(fd, n);
          cb(err, n, b);
        });
      }) as typeof fs.writev,
    };
  }

  #wrote(fd: number, n: number): void {
    this.#pending += n;
    if (this.#pending >= this.every && this.#inFlight === undefined) this.#start(fd);
  }

  #start(fd: number): void {
    this.#pending = 0;
    this.flushes += 1;
    this.#inFlight = new Promise<void>((resolve) => {
      this.#io.fdatasync(fd, (err) => {
        if (err !== null && this.#failure === undefined) {
          this.#failure = err;
          this.onFailure?.(err);
        }
        this.#inFlight = undefined;
        resolve();
      });
    });
  }

  /** Wait for the flush in flight, if any; throws the first flush failure. */
  async settle(): Promise<void> {
    while (this.#inFlight !== undefined) await this.#inFlight;
    if (this.#failure !== undefined) throw this.#failure;
  }
}
