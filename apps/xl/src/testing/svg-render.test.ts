import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { colourStats, decodePng } from './svg-render.js';

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, Buffer.from(type, 'latin1'), data, Buffer.alloc(4)]);
}

/** A 2x2 RGB PNG, row 0 with filter Sub, row 1 with filter Up. */
function png(): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(2, 0);
  ihdr.writeUInt32BE(2, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const raw = Buffer.from([1, 10, 20, 30, 5, 5, 5, 2, 1, 1, 1, 0, 0, 0]);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

describe('decodePng', () => {
  it('undoes the row filters', () => {
    const px = decodePng(png());
    expect([...px.rgba]).toEqual([10, 20, 30, 255, 15, 25, 35, 255, 11, 21, 31, 255, 15, 25, 35, 255]);
    expect(colourStats(px)).toEqual({ colours: 2, inked: 1 });
  });

  it('refuses what is not a PNG', () => {
    expect(() => decodePng(Buffer.from('<svg/>'))).toThrow(/signature/);
  });
});
