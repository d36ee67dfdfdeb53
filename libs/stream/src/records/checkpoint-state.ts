/** Xen's CHECKPOINT_STATE (COLO): one u32 control id. */
import { head } from '../body.js';
import { defineRecord } from '../record-codec.js';

export const CHECKPOINT_STATE = defineRecord<{ controlId: number }>({
  type: 0x5,
  name: 'CHECKPOINT_STATE',
  minLength: 4,
  maxLength: 4,
  decode: (body) => ({ controlId: head(body, 4).readUInt32LE(0) }),
  encode: (v) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v.controlId >>> 0, 0);
    return [b];
  },
  summary: (v) => `control id ${v.controlId}`,
});
