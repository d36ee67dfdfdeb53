import fc from 'fast-check';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { decodeStreamHeader, encodeStreamHeader } from './stream-header.js';
import { StreamWriter } from './stream-writer.js';
import { decodeAll, pieces } from './testing/collect.js';
import { decodeXlHeader, encodeXlHeader } from './xl-header.js';

const json = fc.dictionary(
  fc.string({ minLength: 1, maxLength: 8 }),
  fc.oneof(fc.string(), fc.integer(), fc.boolean()),
  { maxKeys: 4 },
);
const bytes = (max: number) => fc.uint8Array({ minLength: 1, maxLength: max }).map((a) => Buffer.from(a));

const model = fc.record({
  config: fc.option(json, { nil: undefined }),
  pre: fc.array(
    fc.oneof(
      bytes(40).map((data) => ({ kind: 'emu' as const, data })),
      fc
        .array(
          fc.tuple(
            fc.stringMatching(/^[a-z][a-z0-9/]{0,6}$/),
            fc.string({ maxLength: 6 }).filter((s) => !s.includes('\0')),
          ),
        )
        .map((pairs) => ({ kind: 'xs' as const, pairs })),
      fc
        .tuple(fc.integer({ min: 1, max: 0xffff }), fc.uint8Array({ maxLength: 20 }))
        .map(([t, b]) => ({ kind: 'opt' as const, type: 0xd84c0000 + t, body: Buffer.from(b) })),
    ),
    { maxLength: 4 },
  ),
  info: fc.boolean(),
  mirror: fc.boolean(),
  ram: fc.option(fc.tuple(bytes(6000), fc.integer({ min: 1, max: 2048 })), { nil: undefined }),
});
type Model = typeof model extends fc.Arbitrary<infer M> ? M : never;

const INFO = { qemuVersion: '7.2.0', machine: 'pc', accel: 'tcg', memoryMiB: 32, vcpus: 2, disks: [] };

async function encode(m: Model): Promise<Buffer> {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (b: Buffer) => parts.push(b));
  const w = new StreamWriter(out);
  if (m.config !== undefined) await w.writeXlHeader(m.config);
  await w.writeStreamHeader();
  for (const r of m.pre) {
    if (r.kind === 'emu') await w.writeRecord('EMULATOR_CONTEXT', { emulatorId: 2, index: 0, data: r.data });
    else if (r.kind === 'xs')
      await w.writeRecord('EMULATOR_XENSTORE_DATA', { emulatorId: 2, index: 0, pairs: r.pairs });
    else await w.writeRawRecord(r.type, [r.body]);
  }
  if (m.info) {
    await w.writePhase(1);
    await w.writeDomainInfo(INFO);
  }
  if (m.mirror) await w.writePhase(2);
  if (m.ram !== undefined) {
    await w.writePhase(3);
    await w.writeRamFrom([m.ram[0]], { chunkSize: m.ram[1] });
  }
  await w.end();
  return Buffer.concat(parts);
}

/** What decoding the model must give, by record name (unknown optional records are skipped). */
function expected(m: Model): string[] {
  const names: string[] = m.pre
    .filter((r) => r.kind !== 'opt')
    .map((r) => (r.kind === 'emu' ? 'EMULATOR_CONTEXT' : 'EMULATOR_XENSTORE_DATA'));
  if (m.info) names.push('PHASE', 'DOMAIN_INFO');
  if (m.mirror) names.push('PHASE');
  if (m.ram !== undefined)
    names.push('PHASE', ...Array<string>(Math.ceil(m.ram[0].length / m.ram[1])).fill('RAM_CHUNK'), 'RAM_END');
  return [...names, 'END'];
}

describe('properties', () => {
  test('decode(encode(x)) = x for arbitrary streams', async () => {
    await fc.assert(
      fc.asyncProperty(model, async (m) => {
        const d = await decodeAll(pieces(await encode(m), []));
        expect(d.xlConfig).toEqual(m.config);
        expect(d.records.map((r) => r.name)).toEqual(expected(m));
        const ram = d.records
          .filter((r) => r.name === 'RAM_CHUNK')
          .map((r) => r.ram)
          .join('');
        expect(ram).toBe(m.ram?.[0].toString('hex') ?? '');
        const emu = d.records.filter((r) => r.name === 'EMULATOR_CONTEXT').map((r) => r.ram);
        expect(emu).toEqual(m.pre.flatMap((r) => (r.kind === 'emu' ? [r.data.toString('hex')] : [])));
        const xs = d.records
          .filter((r) => r.name === 'EMULATOR_XENSTORE_DATA')
          .map((r) => JSON.parse(r.summary ?? '{}').pairs);
        expect(xs).toEqual(m.pre.flatMap((r) => (r.kind === 'xs' ? [r.pairs] : [])));
      }),
      { numRuns: 150 },
    );
  });

  test('every split of the input into chunks decodes identically', async () => {
    await fc.assert(
      fc.asyncProperty(model, fc.array(fc.nat(), { maxLength: 12 }), async (m, cuts) => {
        const buf = await encode(m);
        const whole = await decodeAll(pieces(buf, []));
        const split = await decodeAll(
          pieces(
            buf,
            cuts.map((c) => c % (buf.length + 1)),
          ),
        );
        expect(split).toEqual(whole);
      }),
      { numRuns: 150 },
    );
  });

  test('headers round-trip', () => {
    fc.assert(
      fc.property(json, (cfg) => {
        expect(decodeXlHeader(encodeXlHeader(cfg)).config).toEqual(cfg);
      }),
    );
    expect(decodeStreamHeader(encodeStreamHeader())).toEqual({ version: 2, options: 0 });
  });
});
