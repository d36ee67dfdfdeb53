import { describe, expect, it } from 'vitest';
import { QmpProtocolError } from './errors.js';
import { LineSplitter } from './line-splitter.js';

function feedAll(splitter: LineSplitter, chunks: Buffer[]): string[] {
  return chunks.flatMap((c) => splitter.push(c));
}

describe('LineSplitter', () => {
  const text = '{"a": 1}\r\n{"b": "é€"}\r\n{"c": [1,2]}\n';
  const expected = ['{"a": 1}', '{"b": "é€"}', '{"c": [1,2]}'];

  it('splits merged lines and trims CR', () => {
    expect(feedAll(new LineSplitter(), [Buffer.from(text)])).toEqual(expected);
  });

  it('gives the same lines for every two-chunk split point', () => {
    const bytes = Buffer.from(text);
    for (let i = 0; i <= bytes.length; i++) {
      const s = new LineSplitter();
      expect(feedAll(s, [bytes.subarray(0, i), bytes.subarray(i)])).toEqual(expected);
      expect(s.buffered).toBe(0);
    }
  });

  it('gives the same lines byte by byte', () => {
    const bytes = Buffer.from(text);
    const chunks = [...bytes].map((b) => Buffer.from([b]));
    expect(feedAll(new LineSplitter(), chunks)).toEqual(expected);
  });

  it('keeps an unfinished line buffered', () => {
    const s = new LineSplitter();
    expect(s.push(Buffer.from('{"a"'))).toEqual([]);
    expect(s.buffered).toBe(4);
    expect(s.push(Buffer.from(':1}\n'))).toEqual(['{"a":1}']);
  });

  it('rejects a line over the bound, even when it arrives in pieces', () => {
    const s = new LineSplitter(8);
    s.push(Buffer.from('12345'));
    expect(() => s.push(Buffer.from('6789'))).toThrow(QmpProtocolError);
    expect(() => new LineSplitter(8).push(Buffer.from('123456789\n'))).toThrow(/at most 8 bytes, got 9/);
  });

  it('accepts a line exactly at the bound', () => {
    expect(new LineSplitter(8).push(Buffer.from('12345678\n'))).toEqual(['12345678']);
  });

  it('rejects a nonsensical bound', () => {
    expect(() => new LineSplitter(0)).toThrow(RangeError);
  });
});
