import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  RAM_CHUNK_HEADER_SIZE, RAM_END_SIZE, RECORD_HEADER_SIZE, STREAM_HEADER_SIZE, XL_HEADER_FIXED_SIZE, XL_MAGIC,
} from './constants.js';
import { RECORD_CODECS } from './record-types.js';
import { STRUCT_SIZES } from './structs.js';

const spec = readFileSync(new URL('../SPEC.md', import.meta.url), 'utf8');

describe('SPEC.md matches the code', () => {
  test('header and record-header sizes', () => {
    expect(spec).toContain(`The fixed part is ${XL_HEADER_FIXED_SIZE} bytes`);
    expect(STRUCT_SIZES.xlFixed).toBe(XL_HEADER_FIXED_SIZE);
    expect(spec).toContain(`## 3. Stream header (libxl v2), ${STREAM_HEADER_SIZE} bytes, big-endian`);
    expect(STRUCT_SIZES.streamHeader).toBe(STREAM_HEADER_SIZE);
    expect(spec).toContain(`The record header is ${RECORD_HEADER_SIZE} bytes`);
    expect(STRUCT_SIZES.recordHeader).toBe(RECORD_HEADER_SIZE);
    expect(spec).toContain(`RAM chunk header (${RAM_CHUNK_HEADER_SIZE} bytes)`);
    expect(STRUCT_SIZES.ramChunk).toBe(RAM_CHUNK_HEADER_SIZE);
    expect(spec).toContain(`### 4.6 RAM_END (${RAM_END_SIZE} bytes)`);
    expect(STRUCT_SIZES.ramEnd).toBe(RAM_END_SIZE);
    expect(STRUCT_SIZES.emulator).toBe(8);
    expect(STRUCT_SIZES.phase).toBe(8);
    expect(XL_MAGIC.length).toBe(32);
  });

  test('every record type in the table is in SPEC.md section 4.1 with its number', () => {
    for (const codec of Object.values(RECORD_CODECS)) {
      expect(spec).toContain(`| 0x${codec.type.toString(16).toUpperCase().padStart(8, '0')} | ${codec.name} |`);
    }
  });

  test('xlkit types sit in the documented block, Xen types keep their numbers', () => {
    expect(RECORD_CODECS.END.type).toBe(0);
    expect(RECORD_CODECS.EMULATOR_CONTEXT.type).toBe(3);
    expect(RECORD_CODECS.CHECKPOINT_END.type).toBe(4);
    for (const name of ['DOMAIN_INFO', 'PHASE', 'RAM_CHUNK', 'RAM_END'] as const) {
      expect(RECORD_CODECS[name].type >>> 16).toBe(0x584c);
    }
  });
});
