/**
 * Reads a stream socket a whole chunk at a time on a thread of libuv's pool (src/read-chunk.c),
 * for a byte stream xl frames (QEMU's outgoing migration socket). Node's own socket reading
 * delivers 64 KiB at a time, each a fresh Buffer, an event and a promise in JavaScript; here a
 * chunk is one call. Where the addon did not build, `open` returns undefined and the caller
 * reads through Node as before.
 *
 * The reader works on its own duplicate of the descriptor, so the socket it came from may be
 * destroyed at any time (a failed migration) without a read in flight touching a descriptor
 * number the process has meanwhile reused; `close` waits for that read before closing it.
 */
import { addon, type Addon } from './addon.js';
import { OsTuneError } from './errors.js';

export interface ChunkRead {
  /** Bytes now at the start of the buffer (0 when nothing came within `waitMs`). */
  bytes: number;
  /** The peer closed its end: nothing more will come. */
  eof: boolean;
}

export class ChunkReader {
  readonly #native: Addon;
  readonly #fd: number;
  #inFlight: Promise<unknown> | undefined;
  #closed = false;

  private constructor(native: Addon, fd: number) {
    this.#native = native;
    this.#fd = fd;
  }

  /**
   * A reader on a duplicate of `fd`, which no one else may read (a Node socket that was never
   * started reading: `pauseOnConnect`); undefined without the addon.
   */
  static open(fd: number): ChunkReader | undefined {
    const native = addon();
    if (native === undefined || typeof native.readChunk !== 'function') return undefined;
    try {
      return new ChunkReader(native, native.dupFd(fd));
    } catch (err) {
      throw nativeError('dup', fd, err);
    }
  }

  /**
   * Fills `buffer`: resolves once it is full, at end of stream, once data came and then none
   * for `idleMs`, or when nothing came for `waitMs`. One read at a time; the buffer must not be
   * touched until it resolves.
   */
  async read(buffer: Uint8Array, idleMs: number, waitMs: number): Promise<ChunkRead> {
    if (this.#closed)
      throw new OsTuneError('OS_TUNE_READ', 'the chunk reader is closed', {
        call: 'read',
        errno: 'EBADF',
        fd: this.#fd,
      });
    if (this.#inFlight !== undefined)
      throw new OsTuneError('OS_TUNE_READ', 'a chunk read is already in flight', {
        call: 'read',
        errno: 'EBUSY',
        fd: this.#fd,
      });
    const reading = this.#native.readChunk(this.#fd, buffer, idleMs, waitMs);
    this.#inFlight = reading;
    try {
      const [bytes, eof] = await reading;
      return { bytes, eof };
    } catch (err) {
      throw nativeError('read', this.#fd, err);
    } finally {
      this.#inFlight = undefined;
    }
  }

  /** Closes the duplicate once no read is in flight. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#inFlight?.catch(() => undefined);
    this.#native.closeFd(this.#fd);
  }
}

function nativeError(call: string, fd: number, err: unknown): OsTuneError {
  const errno = (err as { code?: unknown }).code;
  return new OsTuneError(
    'OS_TUNE_READ',
    `${call} on descriptor ${fd} failed: ${err instanceof Error ? err.message : String(err)}`,
    { call, errno: typeof errno === 'string' ? errno : 'EUNKNOWN', fd, cause: err },
  );
}
