/**
 * Verified RAM chunks into the destination QEMU's incoming socket, in one of two ways:
 *
 * - Paced by the reader (restore, and a sender without `ram-credit`): a chunk is written
 *   while the next record is read, and the one after waits until the first has drained, so
 *   at most two chunks are held and a slow QEMU slows the reading.
 * - Paced by credit (migration with `ram-credit`): the reader never waits for QEMU; every
 *   chunk is queued on the socket at once and its bytes are granted back to the sender once
 *   the socket has taken them. The sender holds to its credit, so what is queued here never
 *   exceeds the window, and a sender that oversteps is a protocol error.
 */
import type { Socket } from 'node:net';
import { XlError } from '../errors.js';

export interface FeederCredit {
  /** Bytes of RAM payload the sender may have on its way; granted in full at start. */
  window: number;
  /** Sends a RAM_CREDIT of `bytes` to the sender. */
  grant: (bytes: number) => void;
}

export class ChunkFeeder {
  readonly #socket: Socket;
  readonly #credit: FeederCredit | undefined;
  /** Payload the sender may still send before we grant more (credit mode). */
  #allowance = 0;
  #draining: Promise<void> | undefined;
  #failure: Error | undefined;
  #pendingWrites = 0;
  #idle: (() => void) | undefined;
  /** QEMU closed its end with every write accepted: fine if nothing more comes. */
  #closed = false;

  constructor(socket: Socket, credit?: FeederCredit) {
    this.#socket = socket;
    this.#credit = credit;
    // QEMU closes the socket once it has read the end of its stream, which can be before
    // RAM_END reaches us (the sender sends the last bytes as soon as QEMU goes quiet, and
    // RAM_END only once the source QEMU has closed its socket and reported completed). Its
    // verdict (completed or failed) is what counts then. A close with writes still pending
    // means it did not take them; one that left bytes unread in its socket resets ours
    // (ECONNRESET, an 'error' first).
    socket.once('close', () => {
      if (this.#pendingWrites > 0) this.#fail(new Error('QEMU closed the incoming migration socket'));
      else this.#closed = true;
    });
    socket.on('error', (err) => this.#fail(err));
    if (credit) {
      this.#allowance = credit.window;
      credit.grant(credit.window);
    }
  }

  /** Queues one verified chunk's slices for QEMU; resolves when the reader may go on. */
  async push(parts: readonly Buffer[], length: number): Promise<void> {
    if (this.#failure) throw this.#failure;
    // A plain Error, as the socket's own failures are: receiveRam adds QEMU's verdict to it.
    if (this.#closed)
      throw new Error(
        `QEMU closed the incoming migration socket with ${length} more bytes of its stream to come`,
      );
    if (this.#credit) {
      if (length > this.#allowance) {
        throw new XlError(
          'XL_MIGRATION',
          `the sender overstepped its RAM credit: a chunk of ${length} bytes with ${this.#allowance} granted`,
        );
      }
      this.#allowance -= length;
      this.#write(parts, length);
      return;
    }
    const previous = this.#draining;
    this.#draining = undefined;
    if (previous) await previous;
    if (this.#failure) throw this.#failure;
    this.#draining = this.#write(parts, length);
    this.#draining?.catch(() => undefined);
  }

  /** Resolves once everything pushed has been taken by the socket; rejects if QEMU failed. */
  async finish(): Promise<void> {
    if (this.#pendingWrites > 0) await new Promise<void>((resolve) => (this.#idle = resolve));
    if (this.#failure) throw this.#failure;
  }

  /**
   * One writev for the chunk's slices (corked). Credit mode: grants its bytes when the socket
   * has taken them. Reader mode: when the socket is over its high-water mark, the returned
   * promise waits for 'drain'.
   */
  #write(parts: readonly Buffer[], length: number): Promise<void> | undefined {
    const socket = this.#socket;
    this.#pendingWrites++;
    socket.cork();
    let below = true;
    parts.forEach((b, i) => {
      below = i < parts.length - 1 ? socket.write(b) : socket.write(b, (err) => this.#written(length, err));
    });
    socket.uncork();
    if (this.#credit || below || !socket.writableNeedDrain) return undefined;
    return new Promise((resolve, reject) => {
      const done = () => {
        socket.off('drain', done);
        socket.off('close', done);
        if (this.#failure) reject(this.#failure);
        else resolve();
      };
      socket.on('drain', done);
      socket.on('close', done);
    });
  }

  #written(length: number, err: Error | null | undefined): void {
    this.#pendingWrites--;
    if (err) this.#fail(err);
    else if (this.#credit && !this.#failure) {
      // One grant per chunk: a migration's chunks are a quarter of the window, so batching
      // them would only hold back credit the sender may be waiting for.
      this.#allowance += length;
      this.#credit.grant(length);
    }
    if (this.#pendingWrites === 0) {
      this.#idle?.();
      this.#idle = undefined;
    }
  }

  #fail(err: Error): void {
    this.#failure ??= err;
    if (this.#pendingWrites === 0 || this.#socket.destroyed) {
      this.#idle?.();
      this.#idle = undefined;
    }
  }
}
