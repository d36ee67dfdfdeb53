/**
 * RAM_CREDIT (receiver to sender, migration back channel): the receiver may take `bytes` more
 * of RAM stream payload. When both ends negotiated it, the sender never has more RAM payload
 * on its way than the receiver granted, so the pipe never fills with RAM that the destination
 * QEMU has not taken yet, and records that share the pipe (the tunnel's) never queue behind it.
 */
import { XLKIT_MANDATORY_BASE } from '../constants.js';
import { StreamError } from '../errors.js';
import { head } from '../body.js';
import { defineRecord } from '../record-codec.js';

export const RAM_CREDIT_TYPE = XLKIT_MANDATORY_BASE + 8;
/** Largest grant in one record. */
export const RAM_CREDIT_MAX = 256 * 1024 * 1024;

export interface RamCreditGrant {
  bytes: number;
}

function bad(at: number, field: string, expected: string, actual: number): StreamError {
  return new StreamError('STREAM_BAD_RECORD', `RAM credit ${field}`, {
    offset: at,
    recordType: RAM_CREDIT_TYPE,
    expected,
    actual,
  });
}

export const RAM_CREDIT = defineRecord<RamCreditGrant>({
  type: RAM_CREDIT_TYPE,
  name: 'RAM_CREDIT',
  minLength: 8,
  maxLength: 8,
  decode: (body, _len, at) => {
    const b = head(body, 8);
    const bytes = b.readUInt32LE(0);
    const reserved = b.readUInt32LE(4);
    if (bytes < 1 || bytes > RAM_CREDIT_MAX) throw bad(at, 'bytes', `1..${RAM_CREDIT_MAX}`, bytes);
    if (reserved !== 0) throw bad(at + 4, 'reserved field', '0', reserved);
    return { bytes };
  },
  encode: (v) => {
    if (!Number.isInteger(v.bytes) || v.bytes < 1 || v.bytes > RAM_CREDIT_MAX)
      throw bad(0, 'bytes', `1..${RAM_CREDIT_MAX}`, v.bytes);
    const b = Buffer.alloc(8);
    b.writeUInt32LE(v.bytes, 0);
    return [b];
  },
  summary: (v) => `receiver takes ${v.bytes} more bytes of RAM stream`,
});
