/** Test helpers: feed buffers to a reader in given pieces and collect what it yields. */
import { PassThrough } from 'node:stream';
import { StreamError } from '../errors.js';
import { readStream, type ReaderOptions } from '../stream-reader.js';
import type { StreamRecord } from '../record-types.js';

/** An output that keeps everything written to it: `bytes()` is all of it so far. */
export function captured(): { out: PassThrough; bytes: () => Buffer } {
  const out = new PassThrough();
  const parts: Buffer[] = [];
  out.on('data', (c: Buffer) => parts.push(c));
  return { out, bytes: () => Buffer.concat(parts) };
}

export async function* pieces(buf: Buffer, cuts: readonly number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c > at && c < buf.length) {
      yield buf.subarray(at, c);
      at = c;
    }
  }
  if (at < buf.length) yield buf.subarray(at);
}

export interface Decoded {
  xlConfig: unknown;
  records: Array<{ name: string; offset: number; length: number; summary?: string; ram?: string }>;
}

/** Decode a whole stream into a plain comparable value (RAM payload as hex of its bytes). */
export async function decodeAll(input: AsyncIterable<Buffer>, options?: ReaderOptions): Promise<Decoded> {
  const r = readStream(input, options);
  const { xlHeader } = await r.headers();
  const records: Decoded['records'] = [];
  for await (const rec of r) records.push(describe(rec));
  return { xlConfig: xlHeader?.config, records };
}

function describe(rec: StreamRecord): Decoded['records'][number] {
  const base = { name: rec.name, offset: rec.offset, length: rec.length };
  if (rec.name === 'RAM_CHUNK') return { ...base, ram: Buffer.concat(rec.value.payload).toString('hex') };
  if (rec.name === 'EMULATOR_CONTEXT') return { ...base, ram: rec.value.data.toString('hex') };
  return {
    ...base,
    summary: JSON.stringify(rec.value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
  };
}

/** Outcome of decoding: 'ok' or the StreamError code; anything else is rethrown. */
export async function outcome(
  buf: Buffer,
  cuts: readonly number[] = [],
  options?: ReaderOptions,
): Promise<string> {
  try {
    await decodeAll(pieces(buf, cuts), options);
    return 'ok';
  } catch (err) {
    if (err instanceof StreamError) return err.code;
    throw err;
  }
}
