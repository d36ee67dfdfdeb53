/**
 * Mutation fuzzing over a corpus of valid streams, shared by the bounded pass in
 * fuzz.test.ts and by `npm run fuzz:stream`. Invariant: a valid decode or a StreamError;
 * never another exception, never a hang, never more buffered than the cap allows.
 */
import { RECORD_LENGTH_MAX } from '../constants.js';
import { StreamError } from '../errors.js';
import { readStream } from '../stream-reader.js';
import * as B from './byte-builder.js';
import { pieces } from './collect.js';

export interface CorpusEntry {
  name: string;
  bytes: Buffer;
  checkpointed?: boolean;
}

export function corpus(): CorpusEntry[] {
  const H = B.streamHeader();
  const E = B.end();
  return [
    { name: 'minimal', bytes: Buffer.concat([H, E]) },
    {
      name: 'xen-save',
      bytes: Buffer.concat([
        B.xlHeader('{"c_info":{"name":"vm"}}'),
        H,
        B.emulatorContext(Buffer.from('QEVM-state-xyz')),
        E,
      ]),
    },
    { name: 'xlkit-full', bytes: B.fullStream(B.pattern(700, 4), 256) },
    {
      name: 'padding',
      bytes: Buffer.concat([
        H,
        ...[0, 1, 2, 3, 4, 5, 6, 7].map((n) => B.emulatorContext(Buffer.alloc(n, n + 1))),
        E,
      ]),
    },
    {
      name: 'optional+xenstore',
      bytes: Buffer.concat([
        H,
        B.record(0xd84c0009, Buffer.alloc(5, 1)),
        B.record(2, Buffer.concat([B.emu(), Buffer.from('k\0v\0')])),
        E,
      ]),
    },
    {
      name: 'checkpointed',
      bytes: Buffer.concat([H, B.emulatorContext(Buffer.alloc(3)), B.record(4), B.record(5, B.u32le(1)), E]),
      checkpointed: true,
    },
  ];
}

/** Offsets of record headers in a valid stream (after the xl and stream headers). */
export function recordOffsets(bytes: Buffer): number[] {
  let at = 0;
  if (bytes.subarray(0, 8).toString('latin1') === 'Xen save') at = 48 + bytes.readUInt32LE(44);
  at += 16;
  const out: number[] = [];
  while (at + 8 <= bytes.length) {
    out.push(at);
    const len = bytes.readUInt32LE(at + 4);
    at += 8 + len + ((8 - (len % 8)) % 8);
  }
  return out;
}

const CAP = 1024 * 1024;
export const LENGTHS = [0, 7, 8, CAP - 1, CAP, CAP + 1, RECORD_LENGTH_MAX, 0xffffffff];

/** Deterministic mutations of one stream: every truncation, header bit flips, lengths, types, swaps, duplicates. */
export function* systematicMutations(bytes: Buffer): Generator<[string, Buffer]> {
  for (let n = 0; n < bytes.length; n++) yield [`truncate@${n}`, bytes.subarray(0, n)];
  const offs = recordOffsets(bytes);
  const headerEnd = offs[0] ?? 16;
  for (let i = 0; i < headerEnd; i++)
    for (let bit = 0; bit < 8; bit++) {
      const m = Buffer.from(bytes);
      B.flip(m, i, 1 << bit);
      yield [`header-flip@${i}.${bit}`, m];
    }
  for (let k = 0; k < offs.length; k++) {
    const o = offs[k] as number;
    for (let i = 0; i < 8; i++)
      for (let bit = 0; bit < 8; bit++) {
        const m = Buffer.from(bytes);
        B.flip(m, o + i, 1 << bit);
        yield [`rechdr-flip#${k}@${i}.${bit}`, m];
      }
    for (const len of LENGTHS) {
      const m = Buffer.from(bytes);
      m.writeUInt32LE(len >>> 0, o + 4);
      yield [`len#${k}=${len}`, m];
    }
    for (const t of [0x584c7777, 0xd84c7777, 0x6, 0x80000000]) {
      const m = Buffer.from(bytes);
      m.writeUInt32LE(t >>> 0, o);
      yield [`type#${k}=${t.toString(16)}`, m];
    }
    const next = offs[k + 1] ?? bytes.length;
    const rec = bytes.subarray(o, next);
    yield [`dup#${k}`, Buffer.concat([bytes.subarray(0, next), rec, bytes.subarray(next)])];
    const after = offs[k + 2] ?? bytes.length;
    if (k + 1 < offs.length)
      yield [
        `swap#${k}`,
        Buffer.concat([bytes.subarray(0, o), bytes.subarray(next, after), rec, bytes.subarray(after)]),
      ];
  }
}

/** Random mutation: a few byte flips, overwrites, insertions or deletions. */
export function randomMutation(bytes: Buffer, rand: () => number): Buffer {
  let m = Buffer.from(bytes);
  const steps = 1 + Math.floor(rand() * 3);
  for (let s = 0; s < steps; s++) {
    const at = Math.floor(rand() * (m.length + 1));
    const kind = Math.floor(rand() * 4);
    if (kind === 0 && m.length > 0) B.flip(m, Math.min(at, m.length - 1), 1 << Math.floor(rand() * 8));
    else if (kind === 1 && at + 4 <= m.length)
      m.writeUInt32LE(LENGTHS[Math.floor(rand() * LENGTHS.length)] ?? 0, at);
    else if (kind === 2)
      m = Buffer.concat([m.subarray(0, at), Buffer.from([Math.floor(rand() * 256)]), m.subarray(at)]);
    else
      m = Buffer.concat([
        m.subarray(0, at),
        m.subarray(Math.min(m.length, at + 1 + Math.floor(rand() * 16))),
      ]);
  }
  return m;
}

/** Decode under the invariant; returns 'ok' or the StreamError code, throws on a violation. */
export async function checkCase(
  bytes: Buffer,
  cuts: readonly number[],
  checkpointed = false,
): Promise<string> {
  const r = readStream(pieces(bytes, cuts), { maxRecordLength: CAP, checkpointed });
  let verdict: string;
  try {
    for await (const rec of r) {
      if (rec.name === 'RAM_CHUNK') for await (const b of r.ramPayload(rec)) void b;
    }
    verdict = 'ok';
  } catch (err) {
    if (!(err instanceof StreamError))
      throw new Error(`invariant broken: not a StreamError: ${String(err)}`, { cause: err });
    verdict = err.code;
  }
  // Whatever the verdict, the reader must never have buffered beyond its cap.
  if (r.maxBuffered > CAP + 8 + bytes.length)
    throw new Error(`invariant broken: buffered ${r.maxBuffered} bytes`);
  return verdict;
}

/** Small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
