/** PHASE: which of the three phases begins. Its 8-byte body also serves PHASE_READY. */
import { PHASE_NAMES, XLKIT_MANDATORY_BASE, type PhaseNumber } from '../constants.js';
import { StreamError } from '../errors.js';
import { head } from '../body.js';
import { defineRecord } from '../record-codec.js';
import { decodePhase } from '../structs.js';

/** A record whose body is a phase number (1..3) and a reserved zero word. */
export function definePhaseRecord(type: number, name: string, summary: (phase: string) => string) {
  return defineRecord<{ phase: PhaseNumber }>({
    type,
    name,
    minLength: 8,
    maxLength: 8,
    decode: (body, _len, at) => {
      const f = decodePhase(head(body, 8), at);
      if (f.phase < 1 || f.phase > 3)
        throw new StreamError('STREAM_BAD_RECORD', 'unknown phase', {
          offset: at,
          recordType: type,
          expected: '1..3',
          actual: f.phase,
        });
      if (f.reserved !== 0)
        throw new StreamError('STREAM_BAD_RECORD', 'phase reserved field', {
          offset: at + 4,
          recordType: type,
          expected: 0,
          actual: f.reserved,
        });
      return { phase: f.phase as PhaseNumber };
    },
    encode: (v) => {
      const b = Buffer.alloc(8);
      b.writeUInt32LE(v.phase, 0);
      return [b];
    },
    summary: (v) => summary(`${v.phase} (${PHASE_NAMES[v.phase] ?? '?'})`),
  });
}

export const PHASE = definePhaseRecord(XLKIT_MANDATORY_BASE + 2, 'PHASE', (p) => `phase ${p}`);
