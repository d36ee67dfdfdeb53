/** One channel of a ChannelMux: its local stream, its credit in both directions, its close state. */
import type { Duplex } from 'node:stream';
import type { TunnelFrame } from './frames.js';
import { TunnelError } from './tunnel-error.js';

export interface ChannelHooks {
  control(frame: TunnelFrame): void;
  dataReady(): void;
  removed(): void;
}

export class MuxChannel {
  #stream: Duplex | undefined;
  /** Bytes we may still send. */
  #sendCredit: number;
  /** Bytes the peer may still send us before we grant more. */
  #recvAllowance: number;
  /** Bytes handed to our stream that we have not granted back yet. */
  #toGrant = 0;
  /** Read from our stream, not sent yet. */
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Arrived before the stream was attached. */
  #inbox: { chunks: Buffer[]; length: number }[] = [];
  #localEnd: 'open' | 'ending' | 'sent' = 'open';
  #remoteEnded = false;
  #paused = false;
  gone = false;

  constructor(
    readonly id: number,
    readonly window: number,
    readonly hooks: ChannelHooks,
  ) {
    this.#sendCredit = window;
    this.#recvAllowance = window;
  }

  get hasSendable(): boolean {
    return (
      (this.#pendingBytes > 0 && this.#sendCredit > 0) ||
      (this.#localEnd === 'ending' && this.#pendingBytes === 0)
    );
  }

  attach(stream: Duplex): void {
    if (this.gone) {
      stream.destroy();
      return;
    }
    this.#stream = stream;
    stream.on('data', (chunk: Buffer) => {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      if (this.#pendingBytes >= this.window && !this.#paused) {
        this.#paused = true;
        stream.pause();
      }
      this.hooks.dataReady();
    });
    stream.on('end', () => {
      if (this.#localEnd === 'open') this.#localEnd = 'ending';
      this.hooks.dataReady();
    });
    stream.on('error', () => this.reset());
    stream.on('close', () => {
      // Closed without an end first: the endpoint failed, so the peer must not wait for more.
      if (this.#localEnd === 'open' && !this.gone) this.reset();
    });
    for (const d of this.#inbox.splice(0)) this.#deliver(d.chunks, d.length);
    if (this.#remoteEnded) stream.end();
  }

  /** Up to `max` bytes within credit as one data frame (slices, not copies); or our pending END once data is out. */
  takeData(max: number): TunnelFrame | undefined {
    if (this.gone) return undefined;
    if (this.#pendingBytes === 0) {
      if (this.#localEnd !== 'ending') return undefined;
      this.#localEnd = 'sent';
      this.#maybeDone();
      return { kind: 'close', channel: this.id, reset: false };
    }
    const n = Math.min(max, this.#sendCredit, this.#pendingBytes);
    if (n <= 0) return undefined;
    const parts: Buffer[] = [];
    let have = 0;
    while (have < n) {
      const b = this.#pending[0] as Buffer;
      const take = Math.min(b.length, n - have);
      parts.push(take === b.length ? b : b.subarray(0, take));
      if (take === b.length) this.#pending.shift();
      else this.#pending[0] = b.subarray(take);
      have += take;
    }
    this.#pendingBytes -= n;
    this.#sendCredit -= n;
    if (this.#paused && this.#pendingBytes < this.window / 2) {
      this.#paused = false;
      this.#stream?.resume();
    }
    return { kind: 'data', channel: this.id, chunks: parts, length: n };
  }

  receiveData(chunks: Buffer[], length: number): void {
    if (this.#remoteEnded) throw new TunnelError('protocol', `data on channel ${this.id} after its end`);
    if (length > this.#recvAllowance)
      throw new TunnelError(
        'protocol',
        `channel ${this.id}: peer sent ${length} bytes with only ${this.#recvAllowance} of credit`,
      );
    this.#recvAllowance -= length;
    if (this.#stream) this.#deliver(chunks, length);
    else this.#inbox.push({ chunks, length });
  }

  receiveCredit(bytes: number): void {
    this.#sendCredit += bytes;
    if (this.#sendCredit > this.window)
      throw new TunnelError('protocol', `channel ${this.id}: peer granted more credit than the window`);
  }

  receiveClose(reset: boolean): void {
    if (reset) {
      this.destroy();
      return;
    }
    if (this.#remoteEnded) throw new TunnelError('protocol', `channel ${this.id} ended twice`);
    this.#remoteEnded = true;
    if (this.#stream && this.#inbox.length === 0) this.#stream.end();
    this.#maybeDone();
  }

  /** Writes the slices; credit for them is granted back once the last one is flushed. */
  #deliver(chunks: Buffer[], length: number): void {
    const stream = this.#stream as Duplex;
    const last = chunks.length - 1;
    // One writev for the frame's slices, not one write each.
    if (last > 0) {
      stream.cork();
      process.nextTick(() => stream.uncork());
    }
    for (let i = 0; i < last; i++) stream.write(chunks[i] as Buffer);
    stream.write(chunks[last] as Buffer, (err) => {
      if (err || this.gone) return;
      this.#toGrant += length;
      // Grant in batches, but always before the peer could run dry.
      if (this.#toGrant >= this.window / 4 || this.#recvAllowance + this.#toGrant >= this.window) {
        const grant = this.#toGrant;
        this.#toGrant = 0;
        this.#recvAllowance += grant;
        this.hooks.control({ kind: 'credit', channel: this.id, bytes: grant });
      }
    });
  }

  #maybeDone(): void {
    if (this.#localEnd === 'sent' && this.#remoteEnded) {
      this.gone = true;
      this.hooks.removed();
    }
  }

  /** Local failure: tell the peer and drop the channel. */
  reset(): void {
    if (this.gone) return;
    this.hooks.control({ kind: 'close', channel: this.id, reset: true });
    this.destroy();
  }

  destroy(): void {
    if (this.gone) return;
    this.gone = true;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#stream?.destroy();
    this.hooks.removed();
  }
}
