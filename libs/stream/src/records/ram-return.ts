/**
 * RAM_RETURN (receiver to sender, migration back channel, post-copy over the relayed path):
 * bytes the destination QEMU wrote on its migration socket (QEMU's return path: post-copy page
 * requests and acknowledgements), for the sender to write into the source QEMU's socket. Sent
 * as soon as they are read, so a page request never waits behind bulk data.
 */
import { XLKIT_MANDATORY_BASE } from '../constants.js';
import { StreamError } from '../errors.js';
import { totalLength } from '../body.js';
import { defineRecord } from '../record-codec.js';

/** Largest payload of one RAM_RETURN record (QEMU's return-path messages are tiny). */
export const RAM_RETURN_MAX = 64 * 1024;
export const RAM_RETURN_TYPE = XLKIT_MANDATORY_BASE + 11;

export interface RamReturn {
  /** The payload as slices of the input, never copied. */
  chunks: Buffer[];
  length: number;
}

export const RAM_RETURN = defineRecord<RamReturn>({
  type: RAM_RETURN_TYPE,
  name: 'RAM_RETURN',
  minLength: 1,
  maxLength: RAM_RETURN_MAX,
  duringRam: true,
  decode: (body, len) => ({ chunks: [...body], length: len }),
  encode: (v) => {
    const length = totalLength(v.chunks);
    if (length < 1 || length > RAM_RETURN_MAX || length !== v.length) {
      throw new StreamError('STREAM_WRITER_STATE', 'RAM return size', {
        recordType: RAM_RETURN_TYPE,
        expected: `1..${RAM_RETURN_MAX}, as declared (${v.length})`,
        actual: length,
      });
    }
    return [...v.chunks];
  },
  summary: (v) => `${v.length} bytes of QEMU's return path`,
});
