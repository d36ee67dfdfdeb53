/** Xen's emulator records (EMULATOR_XENSTORE_DATA, EMULATOR_CONTEXT) and their sub-header. */
import { EMULATOR_SUBHEADER_SIZE, EmulatorId } from '../constants.js';
import { StreamError } from '../errors.js';
import { contiguous, head } from '../body.js';
import { defineRecord } from '../record-codec.js';
import { decodeEmulator, type EmulatorSubheader } from '../structs.js';
import { RECORD_LENGTH_MAX } from '../constants.js';

export function encodeEmulator(
  e: EmulatorSubheader = { emulatorId: EmulatorId.QEMU_UPSTREAM, index: 0 },
): Buffer {
  const b = Buffer.alloc(EMULATOR_SUBHEADER_SIZE);
  b.writeUInt32LE(e.emulatorId >>> 0, 0);
  b.writeUInt32LE(e.index >>> 0, 4);
  return b;
}

/** Decode and check the sub-header at the start of a body. */
export function checkEmulator(body: readonly Buffer[], at: number, type: number): EmulatorSubheader {
  const e = decodeEmulator(head(body, EMULATOR_SUBHEADER_SIZE), at);
  if (e.emulatorId > EmulatorId.QEMU_UPSTREAM) {
    throw new StreamError('STREAM_BAD_RECORD', 'unknown emulator id', {
      offset: at,
      recordType: type,
      expected: '0, 1 or 2',
      actual: e.emulatorId,
    });
  }
  return e;
}

export interface EmulatorContext extends EmulatorSubheader {
  data: Buffer;
}

export const EMULATOR_CONTEXT = defineRecord<EmulatorContext>({
  type: 0x3,
  name: 'EMULATOR_CONTEXT',
  minLength: EMULATOR_SUBHEADER_SIZE,
  maxLength: RECORD_LENGTH_MAX,
  decode: (body, _len, at) => {
    const e = checkEmulator(body, at, 0x3);
    return { ...e, data: contiguous(body).subarray(EMULATOR_SUBHEADER_SIZE) };
  },
  encode: (v) => [encodeEmulator(v), v.data],
  summary: (v) => `emulator ${v.emulatorId} index ${v.index}, ${v.data.length} bytes of device state`,
});

export interface XenstoreData extends EmulatorSubheader {
  pairs: Array<[string, string]>;
}

export const EMULATOR_XENSTORE_DATA = defineRecord<XenstoreData>({
  type: 0x2,
  name: 'EMULATOR_XENSTORE_DATA',
  minLength: EMULATOR_SUBHEADER_SIZE,
  maxLength: 1024 * 1024,
  decode: (body, _len, at) => {
    const e = checkEmulator(body, at, 0x2);
    const data = contiguous(body).subarray(EMULATOR_SUBHEADER_SIZE);
    const bad = (what: string) =>
      new StreamError('STREAM_BAD_RECORD', `xenstore data: ${what}`, { offset: at, recordType: 0x2 });
    if (data.length > 0 && data[data.length - 1] !== 0) throw bad('not NUL-terminated');
    const strings =
      data.length === 0
        ? []
        : data
            .subarray(0, data.length - 1)
            .toString('utf8')
            .split('\0');
    if (strings.length % 2 !== 0) throw bad('odd number of strings');
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < strings.length; i += 2) {
      const key = strings[i] as string;
      if (key === '' || key.startsWith('/')) throw bad(`bad key ${JSON.stringify(key)}`);
      pairs.push([key, strings[i + 1] as string]);
    }
    return { ...e, pairs };
  },
  encode: (v) => [
    encodeEmulator(v),
    Buffer.from(v.pairs.map(([k, val]) => `${k}\0${val}\0`).join(''), 'utf8'),
  ],
  summary: (v) => `emulator ${v.emulatorId} index ${v.index}, ${v.pairs.length} xenstore keys`,
});
