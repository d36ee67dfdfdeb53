/**
 * QEMU's return path over the relayed transport (post-copy): the destination QEMU writes page
 * requests on its migration socket; the receiving xl reads them as they come and sends them
 * back as RAM_RETURN records (`forwardReturnPath`), and the sending xl writes them into the
 * source QEMU's socket (`ReturnPathSink`), which QEMU reads as its return path.
 */
import type { Socket } from 'node:net';
import { RAM_RETURN_MAX } from '@xlkit/stream';
import { XlError } from '../errors.js';

/** What may wait for the source QEMU's connection (return-path messages are tiny). */
const PENDING_MAX = 1024 * 1024;

/** Sender side: RAM_RETURN payloads into the source QEMU's migration socket, in order. */
export class ReturnPathSink {
  #socket: Socket | undefined;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  #closed = false;
  /** Bytes written to QEMU so far. */
  bytes = 0;

  /** The source QEMU connected: what came before goes first. */
  attach(socket: Socket): void {
    this.#socket = socket;
    for (const b of this.#pending.splice(0)) this.#send(b);
    this.#pendingBytes = 0;
  }

  write(chunks: readonly Buffer[]): void {
    if (this.#closed) return;
    for (const b of chunks) {
      if (this.#socket !== undefined) {
        this.#send(b);
        continue;
      }
      this.#pendingBytes += b.length;
      if (this.#pendingBytes > PENDING_MAX) {
        throw new XlError(
          'XL_MIGRATION',
          `the receiver sent more than ${PENDING_MAX} bytes of QEMU's return path before the source QEMU connected`,
        );
      }
      this.#pending.push(Buffer.from(b));
    }
  }

  /** The RAM phase is over: later bytes are dropped. */
  close(): void {
    this.#closed = true;
    this.#socket = undefined;
    this.#pending = [];
  }

  #send(b: Buffer): void {
    this.bytes += b.length;
    if (!this.#socket!.destroyed) this.#socket!.write(b);
  }
}

/**
 * Receiver side: everything the destination QEMU writes on `socket`, in pieces of at most
 * RAM_RETURN_MAX, to `send`. Returns a function that stops forwarding.
 */
export function forwardReturnPath(socket: Socket, send: (piece: Buffer) => void): () => void {
  const onData = (b: Buffer) => {
    for (let at = 0; at < b.length; at += RAM_RETURN_MAX) send(b.subarray(at, at + RAM_RETURN_MAX));
  };
  socket.on('data', onData);
  return () => socket.off('data', onData);
}
