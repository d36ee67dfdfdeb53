/**
 * Tests' proof that a chart renders: an SVG through a real renderer (`rsvg-convert`, Debian's
 * librsvg2-bin, installed by tools/setup) to PNG, and that PNG decoded to pixels here (8-bit
 * RGB or RGBA, as rsvg-convert writes), so a test can say the image is not blank.
 */
import { inflateSync } from 'node:zlib';
import { execa } from 'execa';

export interface Pixels {
  width: number;
  height: number;
  /** RGBA, 4 bytes per pixel, row after row. */
  rgba: Uint8Array;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** An 8-bit RGB or RGBA, non-interlaced PNG's pixels; anything else is refused. */
export function decodePng(png: Buffer): Pixels {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG: expected its signature');
  let off = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (off + 8 <= png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('latin1', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const [depth, colour, , , interlace] = [data[8], data[9], data[10], data[11], data[12]];
      if (depth !== 8 || (colour !== 2 && colour !== 6) || interlace !== 0)
        throw new Error(`PNG: expected 8-bit RGB(A), not interlaced; got depth ${depth} colour ${colour}`);
      channels = colour === 6 ? 4 : 3;
    } else if (type === 'IDAT') idat.push(data);
    else if (type === 'IEND') break;
    off += 12 + len;
  }
  if (width === 0 || height === 0 || width * height > 64e6)
    throw new Error(`PNG: bad size ${width}x${height}`);
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length < height * (stride + 1)) throw new Error('PNG: image data too short');
  const cur = new Uint8Array(height * stride);
  for (let r = 0; r < height; r++) {
    const filter = raw[r * (stride + 1)];
    for (let i = 0; i < stride; i++) {
      const v = raw[r * (stride + 1) + 1 + i] ?? 0;
      const a = i >= channels ? (cur[r * stride + i - channels] ?? 0) : 0;
      const b = r > 0 ? (cur[(r - 1) * stride + i] ?? 0) : 0;
      const c = r > 0 && i >= channels ? (cur[(r - 1) * stride + i - channels] ?? 0) : 0;
      const pred =
        filter === 0 ? 0 : filter === 1 ? a : filter === 2 ? b : filter === 3 ? (a + b) >> 1 : paeth(a, b, c);
      cur[r * stride + i] = (v + pred) & 0xff;
    }
  }
  const rgba = new Uint8Array(width * height * 4);
  for (let p = 0; p < width * height; p++) {
    for (let k = 0; k < 3; k++) rgba[p * 4 + k] = cur[p * channels + k] ?? 0;
    rgba[p * 4 + 3] = channels === 4 ? (cur[p * channels + 3] ?? 0) : 255;
  }
  return { width, height, rgba };
}

/** The SVG rendered by rsvg-convert, as pixels. */
export async function renderSvg(svg: string): Promise<Pixels> {
  const r = await execa('rsvg-convert', ['--format', 'png'], { input: svg, encoding: 'buffer' });
  return decodePng(Buffer.from(r.stdout));
}

/** Distinct opaque colours (quantised to 5 bits a channel, so anti-aliasing counts little) and the share of non-white pixels. */
export function colourStats(px: Pixels): { colours: number; inked: number } {
  const seen = new Set<number>();
  let inked = 0;
  for (let p = 0; p < px.width * px.height; p++) {
    const [r, g, b, a] = [
      px.rgba[p * 4] ?? 0,
      px.rgba[p * 4 + 1] ?? 0,
      px.rgba[p * 4 + 2] ?? 0,
      px.rgba[p * 4 + 3] ?? 0,
    ];
    if (a < 128) continue;
    seen.add(((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3));
    if (r < 240 || g < 240 || b < 240) inked++;
  }
  return { colours: seen.size, inked: inked / (px.width * px.height) };
}

/** The share of pixels close to `rgb` (within 40 per channel): where a series' colour shows. */
export function shareOf(px: Pixels, rgb: [number, number, number]): number {
  let n = 0;
  for (let p = 0; p < px.width * px.height; p++) {
    if (
      Math.abs((px.rgba[p * 4] ?? 0) - rgb[0]) < 40 &&
      Math.abs((px.rgba[p * 4 + 1] ?? 0) - rgb[1]) < 40 &&
      Math.abs((px.rgba[p * 4 + 2] ?? 0) - rgb[2]) < 40
    )
      n++;
  }
  return n / (px.width * px.height);
}
