/**
 * PHASE_READY (receiver to sender): the receiver has done its part of a phase (e.g. phase 1:
 * QEMU is up with -incoming defer) and the sender may go on. Same body as PHASE.
 */
import { PHASE_NAMES, XLKIT_MANDATORY_BASE, type PhaseNumber } from '../constants.js';
import { StreamError } from '../errors.js';
import { head } from '../body.js';
import { defineRecord } from '../record-codec.js';
import { decodePhase } from '../structs.js';

const TYPE = XLKIT_MANDATORY_BASE + 7;

export const PHASE_READY = defineRecord<{ phase: PhaseNumber }>({
  type: TYPE, name: 'PHASE_READY', minLength: 8, maxLength: 8,
  decode: (body, _len, at) => {
    const f = decodePhase(head(body, 8), at);
    if (f.phase < 1 || f.phase > 3) throw new StreamError('STREAM_BAD_RECORD', 'unknown phase', { offset: at, recordType: TYPE, expected: '1..3', actual: f.phase });
    if (f.reserved !== 0) throw new StreamError('STREAM_BAD_RECORD', 'phase reserved field', { offset: at + 4, recordType: TYPE, expected: 0, actual: f.reserved });
    return { phase: f.phase as PhaseNumber };
  },
  encode: (v) => {
    const b = Buffer.alloc(8);
    b.writeUInt32LE(v.phase, 0);
    return [b];
  },
  summary: (v) => `receiver ready after phase ${v.phase} (${PHASE_NAMES[v.phase] ?? '?'})`,
});
