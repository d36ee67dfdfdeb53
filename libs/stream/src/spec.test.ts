import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import {
  RAM_CHUNK_HEADER_SIZE,
  RAM_END_SIZE,
  RECORD_HEADER_SIZE,
  STREAM_HEADER_SIZE,
  XL_HEADER_FIXED_SIZE,
  XL_MAGIC,
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
      expect(spec).toContain(
        `| 0x${codec.type.toString(16).toUpperCase().padStart(8, '0')} | ${codec.name} |`,
      );
    }
  });

  test('table 4.1 is in numeric order and its length, phase, once and RAM columns match the codecs', () => {
    const rows = tableRows();
    expect(rows.map((r) => r.name).sort()).toEqual(Object.keys(RECORD_CODECS).sort());
    const types = rows.map((r) => r.type);
    expect(types).toEqual([...types].sort((a, b) => a - b));
    for (const r of rows) {
      const c = RECORD_CODECS[r.name as keyof typeof RECORD_CODECS];
      const [min, max = min] = r.length.split('..').map(bytes);
      expect({ name: r.name, min, max }).toEqual({ name: r.name, min: c.minLength, max: c.maxLength });
      expect({ name: r.name, phase: r.phase }).toEqual({
        name: r.name,
        phase: c.phase === undefined ? 'any' : String(c.phase),
      });
      expect({ name: r.name, once: r.once }).toEqual({ name: r.name, once: c.maxCount === 1 ? 'yes' : 'no' });
      expect({ name: r.name, inRam: r.inRam }).toEqual({
        name: r.name,
        inRam: c.duringRam === true ? 'yes' : 'no',
      });
    }
  });

  test('every JSON record has a schema subsection in 4.4, and only those are JSON in table 4.1', () => {
    const json = [
      'DOMAIN_INFO',
      'MIGRATION_HELLO',
      'MIGRATION_ERROR',
      'RAM_ENDPOINT',
      'DISK_PLAN',
      'DISK_EXPORTS',
    ];
    expect(
      tableRows()
        .filter((r) => r.body.startsWith('JSON'))
        .map((r) => r.name),
    ).toEqual(json);
    for (const name of json) expect(spec).toMatch(new RegExp(`^#### 4\\.4\\.\\d ${name}$`, 'm'));
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

interface Row {
  type: number;
  name: string;
  length: string;
  phase: string;
  once: string;
  inRam: string;
  body: string;
}

/** The rows of table 4.1. */
function tableRows(): Row[] {
  const rows: Row[] = [];
  for (const line of spec.split('\n')) {
    const m = /^\| 0x([0-9A-F]{8}) \| (\w+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \| ([^|]+) \| (.+) \|$/.exec(
      line,
    );
    if (m)
      rows.push({
        type: Number.parseInt(m[1] as string, 16),
        name: m[2] as string,
        length: (m[3] as string).trim(),
        phase: (m[4] as string).trim(),
        once: (m[5] as string).trim(),
        inRam: (m[6] as string).trim(),
        body: (m[7] as string).trim(),
      });
  }
  return rows;
}

/** "24 + 4 MiB" → 4194328. */
function bytes(text: string): number {
  const unit: Record<string, number> = { '': 1, KiB: 1024, MiB: 1024 * 1024 };
  return text.split('+').reduce((sum, term) => {
    const [n, u = ''] = term.trim().split(' ');
    return sum + Number(n) * (unit[u] ?? Number.NaN);
  }, 0);
}
