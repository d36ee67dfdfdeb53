/**
 * POSTCOPY_GO (sender to receiver, migration forward stream, with the `postcopy` feature; also
 * inside the RAM stream): the source QEMU switched to post-copy and reported `postcopy-active`.
 * From here the source is never resumed; the receiver lets its QEMU run the guest now, while
 * the remaining pages arrive (on demand and in the background). Empty body.
 */
import { XLKIT_MANDATORY_BASE } from '../constants.js';
import { defineRecord } from '../record-codec.js';

export const POSTCOPY_GO_TYPE = XLKIT_MANDATORY_BASE + 10;

export const POSTCOPY_GO = defineRecord<null>({
  type: POSTCOPY_GO_TYPE,
  name: 'POSTCOPY_GO',
  minLength: 0,
  maxLength: 0,
  maxCount: 1,
  duringRam: true,
  decode: () => null,
  encode: () => [],
  summary: () => 'post-copy: the destination runs the guest',
});
