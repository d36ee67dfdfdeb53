/** RAM_END: total RAM stream length and the end-to-end digest. */
import {
  DigestAlgorithm,
  EmulatorId,
  Phase,
  RAM_DIGEST_SIZE,
  RAM_END_SIZE,
  XLKIT_MANDATORY_BASE,
} from '../constants.js';
import { StreamError } from '../errors.js';
import { head } from '../body.js';
import { defineRecord } from '../record-codec.js';
import { decodeRamEnd } from '../structs.js';

const TYPE = XLKIT_MANDATORY_BASE + 4;

export interface RamEnd {
  total: number;
  algorithm: number;
  digest: Buffer;
}

export const RAM_END = defineRecord<RamEnd>({
  type: TYPE,
  name: 'RAM_END',
  minLength: RAM_END_SIZE,
  maxLength: RAM_END_SIZE,
  phase: Phase.RAM,
  maxCount: 1,
  duringRam: true,
  decode: (body, _len, at) => {
    const f = decodeRamEnd(head(body, RAM_END_SIZE), at);
    const bad = (what: string, expected: string | number, actual: string | number | bigint, off: number) =>
      new StreamError('STREAM_BAD_RECORD', `RAM end ${what}`, {
        offset: at + off,
        recordType: TYPE,
        expected,
        actual,
      });
    if (f.emulatorId !== EmulatorId.QEMU_UPSTREAM)
      throw bad('emulator id', EmulatorId.QEMU_UPSTREAM, f.emulatorId, 0);
    if (f.index !== 0) throw bad('emulator index', 0, f.index, 4);
    if (f.total > BigInt(Number.MAX_SAFE_INTEGER))
      throw bad('total', `<= ${Number.MAX_SAFE_INTEGER}`, f.total, 8);
    if (f.algorithm !== DigestAlgorithm.CRC_LIST_SHA256)
      throw bad('digest algorithm', DigestAlgorithm.CRC_LIST_SHA256, f.algorithm, 16);
    if (f.digestLength !== RAM_DIGEST_SIZE) throw bad('digest length', RAM_DIGEST_SIZE, f.digestLength, 20);
    return { total: Number(f.total), algorithm: f.algorithm, digest: Buffer.from(f.digest) };
  },
  encode: (v) => {
    const b = Buffer.alloc(RAM_END_SIZE);
    b.writeUInt32LE(EmulatorId.QEMU_UPSTREAM, 0);
    b.writeBigUInt64LE(BigInt(v.total), 8);
    b.writeUInt32LE(v.algorithm, 16);
    b.writeUInt32LE(RAM_DIGEST_SIZE, 20);
    v.digest.copy(b, 24, 0, RAM_DIGEST_SIZE);
    return [b];
  },
  summary: (v) => `total ${v.total} bytes, crc-list-sha256 ${v.digest.toString('hex').slice(0, 16)}…`,
});
