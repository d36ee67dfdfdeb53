/**
 * The stream-level rules of SPEC.md 4.3 and 4.7: phase order, per-type phases and counts,
 * checkpoint records, END exactly once, a contiguous RAM stream with its digest.
 */
import { PHASE_NAMES } from './constants.js';
import { StreamError } from './errors.js';
import { RamDigest } from './ram-digest.js';
import type { RecordCodec } from './record-codec.js';
import type { StreamRecord } from './record-types.js';

export type RamState = 'none' | 'open' | 'done';

export class StreamState {
  phase = 0;
  ram: RamState = 'none';
  ended = false;
  readonly digest = new RamDigest();
  #counts = new Map<number, number>();

  constructor(private readonly checkpointed: boolean) {}

  /** Checks that need only the record header; run before the body is read. */
  beforeBody(codec: RecordCodec<unknown>, at: number): void {
    const unexpected = (why: string) =>
      new StreamError('STREAM_UNEXPECTED_RECORD', `${codec.name} ${why}`, {
        offset: at,
        recordType: codec.type,
      });
    if (this.ended) throw unexpected('after END');
    if (!this.checkpointed && (codec.name === 'CHECKPOINT_END' || codec.name === 'CHECKPOINT_STATE')) {
      throw unexpected('outside a checkpointed stream');
    }
    if (codec.phase !== undefined && codec.phase !== this.phase) {
      throw new StreamError(
        'STREAM_PHASE_ORDER',
        `${codec.name} belongs to phase ${codec.phase} (${PHASE_NAMES[codec.phase]})`,
        {
          offset: at,
          recordType: codec.type,
          expected: codec.phase,
          actual: this.phase,
        },
      );
    }
    const count = (this.#counts.get(codec.type) ?? 0) + 1;
    if (codec.maxCount !== undefined && count > codec.maxCount)
      throw unexpected(`appears more than ${codec.maxCount} time(s)`);
    this.#counts.set(codec.type, count);
    if (this.ram === 'open' && codec.duringRam !== true) {
      if (codec.name === 'END') {
        throw new StreamError('STREAM_RAM_INCOMPLETE', 'END while the RAM stream is open', {
          offset: at,
          recordType: codec.type,
          expected: 'RAM_END',
          actual: 'END',
        });
      }
      throw unexpected('inside the RAM stream (between RAM_CHUNK and RAM_END)');
    }
    if (this.ram === 'done' && codec.name === 'RAM_CHUNK') throw unexpected('after RAM_END');
    if (this.ram === 'none' && codec.name === 'RAM_END') throw unexpected('before any RAM_CHUNK');
  }

  /** Checks on the decoded value. */
  afterBody(rec: StreamRecord): void {
    switch (rec.name) {
      case 'PHASE':
        if (rec.value.phase <= this.phase) {
          throw new StreamError('STREAM_PHASE_ORDER', 'phases must strictly increase', {
            offset: rec.offset,
            recordType: rec.type,
            expected: `> ${this.phase}`,
            actual: rec.value.phase,
          });
        }
        this.phase = rec.value.phase;
        break;
      case 'RAM_CHUNK': {
        const v = rec.value;
        if (v.offset !== this.digest.total) {
          throw new StreamError('STREAM_BAD_OFFSET', 'RAM chunk offset is not contiguous', {
            offset: rec.offset,
            recordType: rec.type,
            expected: this.digest.total,
            actual: v.offset,
          });
        }
        this.digest.update(v.offset, v.length, v.crc32);
        this.ram = 'open';
        break;
      }
      case 'RAM_END': {
        const v = rec.value;
        if (v.total !== this.digest.total) {
          throw new StreamError('STREAM_DIGEST', 'RAM stream total length mismatch', {
            offset: rec.offset,
            recordType: rec.type,
            expected: v.total,
            actual: this.digest.total,
          });
        }
        const got = this.digest.digest();
        if (!got.equals(v.digest)) {
          throw new StreamError('STREAM_DIGEST', 'RAM stream digest mismatch', {
            offset: rec.offset,
            recordType: rec.type,
            expected: v.digest.toString('hex'),
            actual: got.toString('hex'),
          });
        }
        this.ram = 'done';
        break;
      }
      case 'END':
        this.ended = true;
        break;
      default:
        break;
    }
  }
}
