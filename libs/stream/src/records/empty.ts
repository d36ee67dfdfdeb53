/** Xen's zero-length records: END, LIBXC_CONTEXT, CHECKPOINT_END. */
import { StreamError } from '../errors.js';
import { defineRecord } from '../record-codec.js';

export const END = defineRecord<null>({
  type: 0x0,
  name: 'END',
  minLength: 0,
  maxLength: 0,
  maxCount: 1,
  duringRam: false,
  decode: () => null,
  encode: () => [],
  summary: () => 'end of stream',
});

export const LIBXC_CONTEXT = defineRecord<null>({
  type: 0x1,
  name: 'LIBXC_CONTEXT',
  minLength: 0,
  maxLength: 0,
  decode: (_b, _l, at) => {
    throw new StreamError(
      'STREAM_UNSUPPORTED',
      'a libxc memory stream follows; xlkit domains keep RAM in QEMU',
      { offset: at, recordType: 0x1 },
    );
  },
  encode: () => [],
  summary: () => 'libxc stream follows',
});

export const CHECKPOINT_END = defineRecord<null>({
  type: 0x4,
  name: 'CHECKPOINT_END',
  minLength: 0,
  maxLength: 0,
  decode: () => null,
  encode: () => [],
  summary: () => 'checkpoint end',
});
