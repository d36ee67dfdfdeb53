/**
 * MIRROR_READY (sender to receiver, phase 2, `xl migrate -q` only): every disk mirror reached
 * READY; the receiver answers PHASE_READY 2 and phase 3 follows. The mirrors keep running
 * (their traffic stays in the tunnel) until the sender finishes them at pre-switchover.
 */
import { Phase, XLKIT_MANDATORY_BASE } from '../constants.js';
import { StreamError } from '../errors.js';
import { head } from '../body.js';
import { defineRecord } from '../record-codec.js';

export const MIRROR_READY_TYPE = XLKIT_MANDATORY_BASE + 0x103;

export const MIRROR_READY = defineRecord<{ disks: number }>({
  type: MIRROR_READY_TYPE,
  name: 'MIRROR_READY',
  minLength: 8,
  maxLength: 8,
  phase: Phase.DISK_MIRROR,
  maxCount: 1,
  decode: (body, _len, at) => {
    const b = head(body, 8);
    const disks = b.readUInt32LE(0);
    const reserved = b.readUInt32LE(4);
    if (disks < 1 || disks > 26)
      throw new StreamError('STREAM_BAD_RECORD', 'mirror ready disk count', {
        offset: at,
        recordType: MIRROR_READY_TYPE,
        expected: '1..26',
        actual: disks,
      });
    if (reserved !== 0)
      throw new StreamError('STREAM_BAD_RECORD', 'mirror ready reserved field', {
        offset: at + 4,
        recordType: MIRROR_READY_TYPE,
        expected: 0,
        actual: reserved,
      });
    return { disks };
  },
  encode: (v) => {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(v.disks, 0);
    return [b];
  },
  summary: (v) => `${v.disks} disk mirror(s) ready`,
});
