/** RAM_CHUNK: a slice of QEMU's migration stream, with its offset and crc32. */
import { crc32 } from '../crc32.js';
import {
  EmulatorId,
  Phase,
  RAM_CHUNK_HEADER_SIZE,
  RAM_CHUNK_MAX,
  XLKIT_MANDATORY_BASE,
} from '../constants.js';
import { StreamError } from '../errors.js';
import { dropHead, head } from '../body.js';
import { defineRecord } from '../record-codec.js';
import { decodeRamChunkHeader } from '../structs.js';

const TYPE = XLKIT_MANDATORY_BASE + 3;

export interface RamChunk {
  /** Offset of the payload in the RAM stream. */
  offset: number;
  /** crc32 of the payload as stored in the record. */
  crc32: number;
  /** Payload length in bytes. */
  length: number;
  /** Payload as slices of the input (not copied). */
  payload: Buffer[];
}

/** crc32 over slices, as zlib computes it over their concatenation. */
export function crc32Of(segments: readonly Buffer[]): number {
  let c = 0;
  for (const s of segments) c = crc32(s, c);
  return c >>> 0;
}

/** The 24-byte chunk header (emulator sub-header, offset, crc32, reserved). */
export function encodeRamChunkHeader(offset: number, crc: number): Buffer {
  const b = Buffer.alloc(RAM_CHUNK_HEADER_SIZE);
  b.writeUInt32LE(EmulatorId.QEMU_UPSTREAM, 0);
  b.writeUInt32LE(0, 4);
  b.writeBigUInt64LE(BigInt(offset), 8);
  b.writeUInt32LE(crc >>> 0, 16);
  return b;
}

export const RAM_CHUNK = defineRecord<RamChunk>({
  type: TYPE,
  name: 'RAM_CHUNK',
  minLength: RAM_CHUNK_HEADER_SIZE + 1,
  maxLength: RAM_CHUNK_HEADER_SIZE + RAM_CHUNK_MAX,
  phase: Phase.RAM,
  duringRam: true,
  crc32From: RAM_CHUNK_HEADER_SIZE,
  decode: (body, len, at, ctx) => {
    const h = decodeRamChunkHeader(head(body, RAM_CHUNK_HEADER_SIZE), at);
    const bad = (what: string, expected: string | number, actual: string | number | bigint, off: number) =>
      new StreamError('STREAM_BAD_RECORD', `RAM chunk ${what}`, {
        offset: at + off,
        recordType: TYPE,
        expected,
        actual,
      });
    if (h.emulatorId !== EmulatorId.QEMU_UPSTREAM)
      throw bad('emulator id', EmulatorId.QEMU_UPSTREAM, h.emulatorId, 0);
    if (h.index !== 0) throw bad('emulator index', 0, h.index, 4);
    if (h.offset > BigInt(Number.MAX_SAFE_INTEGER))
      throw bad('offset', `<= ${Number.MAX_SAFE_INTEGER}`, h.offset, 8);
    if (h.reserved !== 0) throw bad('reserved field', 0, h.reserved, 20);
    const payload = dropHead(body, RAM_CHUNK_HEADER_SIZE);
    const got = ctx.crc32 ?? crc32Of(payload);
    if (got !== h.crc32) {
      throw new StreamError('STREAM_CHECKSUM', 'RAM chunk crc32 mismatch', {
        offset: at,
        recordType: TYPE,
        expected: `0x${h.crc32.toString(16)}`,
        actual: `0x${got.toString(16)}`,
      });
    }
    return { offset: Number(h.offset), crc32: h.crc32, length: len - RAM_CHUNK_HEADER_SIZE, payload };
  },
  encode: (v) => [encodeRamChunkHeader(v.offset, v.crc32), ...v.payload],
  summary: (v) => `offset ${v.offset}, ${v.length} bytes, crc32 0x${v.crc32.toString(16).padStart(8, '0')}`,
});
