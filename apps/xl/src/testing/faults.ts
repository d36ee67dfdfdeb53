/**
 * Test-only fault hooks (and one probe, ram-dump), read from XLKIT_FAULT (comma-separated).
 * Never set in normal use.
 *
 *   corrupt-ram-chunk:N     sender: flip one payload byte of the N-th RAM_CHUNK (from 1) in transit,
 *                           after its crc was computed
 *   receiver-stall:phase1   receiver: after starting the incoming QEMU, stall before PHASE_READY
 *                           (so a test can kill it at a known point)
 *   receiver-stall:targets  receiver -q: after creating the disk targets, stall before QEMU starts
 *   sender-stall:before-go  sender: after the receiver said ready, stall before GO until
 *                           interrupted (the last moment a failure still rolls back)
 *   mirror-speed:BYTES      sender -q: limit every disk mirror to BYTES/s (stretches phase 2)
 *   nbd-drop:BYTES          sender -q: cut each tunnelled NBD connection after BYTES from QEMU
 *   mirror-stall-ms:MS      sender -q: the window of the not-converging check
 *   receiver-lacks:FEATURE  receiver: leave FEATURE out of its hello, as an older xlkit would
 *   ram-dump:DIR            both: write the guest's final RAM to DIR/source.ram and
 *                           DIR/destination.ram (ram-dump.ts), for a test to compare
 */
import { Transform, type TransformCallback } from 'node:stream';
import { RAM_CHUNK_HEADER_SIZE, RecordType, STREAM_HEADER_SIZE, XL_HEADER_FIXED_SIZE, paddedLength } from '@xlkit/stream';

export interface Faults {
  corruptRamChunk?: number;
  receiverStall?: 'phase1' | 'targets';
  senderStall?: 'before-go';
  mirrorSpeed?: number;
  nbdDropAfter?: number;
  stallWindowMs?: number;
  receiverLacks?: string;
  ramDumpDir?: string;
}

const BYTES_OR_MS = /^[1-9][0-9]{0,12}$/;

export function parseFaults(env: NodeJS.ProcessEnv): Faults {
  const out: Faults = {};
  for (const item of (env.XLKIT_FAULT ?? '').split(',')) {
    const [name, arg] = item.split(':');
    if (name === 'corrupt-ram-chunk' && /^[1-9][0-9]*$/.test(arg ?? '')) out.corruptRamChunk = Number(arg);
    if (name === 'receiver-stall' && (arg === 'phase1' || arg === 'targets')) out.receiverStall = arg;
    if (name === 'sender-stall' && arg === 'before-go') out.senderStall = 'before-go';
    if (name === 'receiver-lacks' && /^[a-z][a-z0-9-]{0,63}$/.test(arg ?? '')) out.receiverLacks = arg;
    if (name === 'ram-dump' && /^\/[A-Za-z0-9._/-]{1,200}$/.test(arg ?? '')) out.ramDumpDir = arg;
    if (!BYTES_OR_MS.test(arg ?? '')) continue;
    if (name === 'mirror-speed') out.mirrorSpeed = Number(arg);
    if (name === 'nbd-drop') out.nbdDropAfter = Number(arg);
    if (name === 'mirror-stall-ms') out.stallWindowMs = Number(arg);
  }
  return out;
}

/**
 * Passes a forward stream (xl header, stream header, records) through, following its framing,
 * and flips one byte inside the payload of the n-th RAM_CHUNK. Bytes after END pass unchanged.
 */
export class CorruptRamChunk extends Transform {
  #need = XL_HEADER_FIXED_SIZE;
  #head: Buffer[] = [];
  #headLen = 0;
  #state: 'xl' | 'xl-data' | 'stream-header' | 'record-header' | 'body' | 'raw' = 'xl';
  #skip = 0;
  #chunks = 0;
  /** Offset inside the current body of the byte to flip, or -1. */
  #flipAt = -1;
  #bodyPos = 0;

  constructor(readonly target: number) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let b = chunk;
    let copied = false;
    let i = 0;
    while (i < b.length && this.#state !== 'raw') {
      if (this.#state === 'body' || this.#state === 'xl-data') {
        const n = Math.min(this.#skip, b.length - i);
        if (this.#flipAt >= this.#bodyPos && this.#flipAt < this.#bodyPos + n) {
          if (!copied) {
            b = Buffer.from(b);
            copied = true;
          }
          const k = i + this.#flipAt - this.#bodyPos;
          b[k] = (b[k] ?? 0) ^ 0x40;
          this.#flipAt = -1;
        }
        this.#bodyPos += n;
        this.#skip -= n;
        i += n;
        if (this.#skip === 0) this.#next(this.#state === 'xl-data' ? 'stream-header' : 'record-header');
        continue;
      }
      const n = Math.min(this.#need - this.#headLen, b.length - i);
      this.#head.push(b.subarray(i, i + n));
      this.#headLen += n;
      i += n;
      if (this.#headLen < this.#need) continue;
      const h = Buffer.concat(this.#head);
      this.#head = [];
      this.#headLen = 0;
      if (this.#state === 'xl') {
        this.#state = 'xl-data';
        this.#skip = h.readUInt32LE(44);
        this.#bodyPos = 0;
        if (this.#skip === 0) this.#next('stream-header');
      } else if (this.#state === 'stream-header') {
        this.#next('record-header');
      } else {
        const type = h.readUInt32LE(0);
        const length = h.readUInt32LE(4);
        if (type === RecordType.END) {
          this.#state = 'raw';
          break;
        }
        this.#state = 'body';
        this.#skip = paddedLength(length);
        this.#bodyPos = 0;
        if (type === RecordType.RAM_CHUNK && ++this.#chunks === this.target) this.#flipAt = RAM_CHUNK_HEADER_SIZE + Math.floor((length - RAM_CHUNK_HEADER_SIZE) / 2);
        if (this.#skip === 0) this.#next('record-header');
      }
    }
    done(null, b);
  }

  #next(state: 'stream-header' | 'record-header'): void {
    this.#state = state;
    this.#need = state === 'stream-header' ? STREAM_HEADER_SIZE : 8;
  }
}
