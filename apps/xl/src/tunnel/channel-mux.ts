/**
 * N byte channels over one framed record stream, in both directions.
 *
 * Flow control is per channel and credit based: each side may have at most `window` bytes of
 * a channel in flight (sent, not yet handed to the far endpoint). The receiving side grants
 * credit back only once its endpoint has taken the bytes, so a slow endpoint stalls only its
 * own channel, the shared stream never blocks on a channel, and what either side buffers is
 * bounded by window × channels. Control frames (credit, open, close) go ahead of data, and
 * channels with data take turns, so neither direction nor any channel can starve another.
 */
import type { Duplex } from 'node:stream';
import { TUNNEL_CHANNEL_MAX, TUNNEL_DATA_MAX } from '@xlkit/stream';
import type { FrameSend, TunnelFrame } from './frames.js';
import { MuxChannel } from './mux-channel.js';
import { TunnelError } from './tunnel-error.js';

export interface ChannelMuxOptions {
  /** Which channel ids this side allocates: the two ends of a tunnel must differ. */
  side: 'odd' | 'even';
  send: FrameSend;
  /** Attach a stream to a channel the peer opened (e.g. connect to the local NBD socket). */
  accept?: (service: number, channel: number) => Promise<Duplex>;
  /** Bytes of one channel in flight per direction; both ends must use the same (16 MiB). */
  window?: number;
  /** Largest data frame (256 KiB, the record's maximum). */
  maxFrame?: number;
  /** Open channels at most (64). */
  maxChannels?: number;
  /** A protocol or send failure ended the tunnel. */
  onError?: (err: TunnelError) => void;
}

export const DEFAULT_WINDOW = 16 * 1024 * 1024;

export interface MuxStats {
  bytesSent: number;
  bytesReceived: number;
  /** Data frames, each direction (bytes / frames is the mean frame size). */
  framesSent: number;
  framesReceived: number;
  channelsOpened: number;
}

export class ChannelMux {
  readonly window: number;
  readonly maxFrame: number;
  readonly stats: MuxStats = {
    bytesSent: 0,
    bytesReceived: 0,
    framesSent: 0,
    framesReceived: 0,
    channelsOpened: 0,
  };
  readonly #opts: ChannelMuxOptions;
  readonly #channels = new Map<number, MuxChannel>();
  readonly #control: TunnelFrame[] = [];
  #nextId: number;
  /** Highest id the peer opened (ids only grow, so lower unknown ids are stale, not bogus). */
  #peerHighest = 0;
  #rr: number[] = [];
  #pumping = false;
  #failed: TunnelError | undefined;
  #closed = false;
  readonly #idleWaiters = new Set<() => void>();

  constructor(opts: ChannelMuxOptions) {
    this.#opts = opts;
    this.window = opts.window ?? DEFAULT_WINDOW;
    this.maxFrame = Math.min(opts.maxFrame ?? TUNNEL_DATA_MAX, TUNNEL_DATA_MAX);
    this.#nextId = opts.side === 'odd' ? 1 : 2;
  }

  get openChannels(): number {
    return this.#channels.size;
  }

  get failure(): TunnelError | undefined {
    return this.#failed;
  }

  /** Opens a channel to the peer's service and carries `stream` over it. */
  open(service: number, stream: Duplex): number {
    if (this.#closed) throw this.#failed ?? new TunnelError('closed', 'the tunnel is closed');
    if (this.#channels.size >= (this.#opts.maxChannels ?? 64))
      throw new TunnelError('endpoint', 'too many open channels');
    const id = this.#nextId;
    if (id > TUNNEL_CHANNEL_MAX) throw new TunnelError('endpoint', 'channel ids exhausted');
    this.#nextId += 2;
    this.stats.channelsOpened++;
    const ch = this.#add(id);
    this.#queueControl({ kind: 'open', channel: id, service });
    ch.attach(stream);
    return id;
  }

  /** Feeds one frame from the peer. Never blocks; throws TunnelError on a protocol violation. */
  receive(frame: TunnelFrame): void {
    if (this.#closed) return;
    try {
      this.#receive(frame);
    } catch (err) {
      const e = err instanceof TunnelError ? err : new TunnelError('protocol', String(err), { cause: err });
      this.#fail(e);
      throw e;
    }
  }

  #receive(f: TunnelFrame): void {
    const ownParity = this.#opts.side === 'odd' ? 1 : 0;
    if (f.kind === 'open') {
      if (f.channel % 2 === ownParity || f.channel <= this.#peerHighest)
        throw new TunnelError('protocol', `peer opened channel ${f.channel} out of order`);
      if (this.#channels.size >= (this.#opts.maxChannels ?? 64))
        throw new TunnelError('protocol', 'peer opened too many channels');
      this.#peerHighest = f.channel;
      this.stats.channelsOpened++;
      const ch = this.#add(f.channel);
      const accept = this.#opts.accept;
      if (!accept) {
        ch.reset();
        return;
      }
      accept(f.service, f.channel).then(
        (stream) => (ch.gone ? stream.destroy() : ch.attach(stream)),
        () => ch.reset(),
      );
      return;
    }
    const ch = this.#channels.get(f.channel);
    if (!ch) {
      const known = f.channel % 2 === ownParity ? f.channel < this.#nextId : f.channel <= this.#peerHighest;
      if (known) return; // a frame that crossed our close or reset
      throw new TunnelError('protocol', `frame for channel ${f.channel}, which was never opened`);
    }
    if (f.kind === 'data') {
      this.stats.bytesReceived += f.length;
      this.stats.framesReceived++;
      ch.receiveData(f.chunks, f.length);
    } else if (f.kind === 'credit') {
      ch.receiveCredit(f.bytes);
      this.#kick();
    } else {
      ch.receiveClose(f.reset);
    }
  }

  /** Resolves true once no channel is open (each ended both ways or was reset) and every frame for them is sent, false after `timeoutMs`. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#closed || (this.#channels.size === 0 && this.#control.length === 0 && !this.#pumping))
      return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#idleWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.#idleWaiters.add(done);
    });
  }

  /** Idle: no channel open and nothing left to send (a last reset or close frame goes out first). */
  #notifyIdle(): void {
    if (!this.#closed && (this.#channels.size > 0 || this.#control.length > 0 || this.#pumping)) return;
    for (const w of this.#idleWaiters) w();
    this.#idleWaiters.clear();
  }

  /** Resets every channel and stops sending. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const ch of [...this.#channels.values()]) ch.destroy();
    this.#channels.clear();
    this.#control.length = 0;
    this.#notifyIdle();
  }

  #fail(err: TunnelError): void {
    if (this.#failed) return;
    this.#failed = err;
    this.close();
    this.#opts.onError?.(err);
  }

  #add(id: number): MuxChannel {
    const ch = new MuxChannel(id, this.window, {
      control: (frame) => this.#queueControl(frame),
      dataReady: () => this.#kick(),
      removed: () => {
        this.#channels.delete(id);
        this.#rr = this.#rr.filter((x) => x !== id);
        this.#notifyIdle();
      },
    });
    this.#channels.set(id, ch);
    this.#rr.push(id);
    return ch;
  }

  #queueControl(frame: TunnelFrame): void {
    if (this.#closed) return;
    this.#control.push(frame);
    this.#kick();
  }

  /** The next frame to send: control first, then one data frame from the next channel in turn. */
  #next(): TunnelFrame | undefined {
    const c = this.#control.shift();
    if (c) return c;
    for (let i = 0; i < this.#rr.length; i++) {
      const id = this.#rr.shift() as number;
      this.#rr.push(id);
      const frame = this.#channels.get(id)?.takeData(this.maxFrame);
      if (frame) return frame;
    }
    return undefined;
  }

  /**
   * Starts the pump after this turn's I/O: a socket delivers up to 64 KiB per read and
   * several reads per turn, so waiting for them fills frames (up to 256 KiB) instead of
   * sending one frame per read; the record and write overhead per frame is most of the
   * tunnel's cost.
   */
  #kick(): void {
    if (this.#pumping || this.#closed) return;
    this.#pumping = true;
    setImmediate(() => void this.#pump());
  }

  async #pump(): Promise<void> {
    try {
      for (let f = this.#next(); f && !this.#closed; f = this.#next()) {
        if (f.kind === 'data') {
          this.stats.bytesSent += f.length;
          this.stats.framesSent++;
        }
        await this.#opts.send(f);
      }
    } catch (err) {
      this.#fail(
        err instanceof TunnelError
          ? err
          : new TunnelError('closed', `sending failed: ${err instanceof Error ? err.message : String(err)}`, {
              cause: err,
            }),
      );
    } finally {
      this.#pumping = false;
    }
    // Frames queued while the last send was in flight.
    if (
      !this.#closed &&
      (this.#control.length > 0 || [...this.#channels.values()].some((c) => c.hasSendable))
    )
      this.#kick();
    else this.#notifyIdle();
  }
}
