/** A record body as the reader holds it: slices of the input, never copied unless asked. */

export function totalLength(segments: readonly Buffer[]): number {
  let n = 0;
  for (const s of segments) n += s.length;
  return n;
}

/** One contiguous buffer; copies only when the body spans several input chunks. */
export function contiguous(segments: readonly Buffer[]): Buffer {
  if (segments.length === 1) return segments[0] as Buffer;
  if (segments.length === 0) return Buffer.alloc(0);
  return Buffer.concat(segments as Buffer[]);
}

/** The first `n` bytes as one buffer (copies at most `n` bytes). */
export function head(segments: readonly Buffer[], n: number): Buffer {
  const first = segments[0];
  if (first !== undefined && first.length >= n) return first.subarray(0, n);
  return contiguous(segments).subarray(0, n);
}

/** The segments after the first `n` bytes, as slices. */
export function dropHead(segments: readonly Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = n;
  for (const s of segments) {
    if (skip >= s.length) {
      skip -= s.length;
      continue;
    }
    out.push(skip > 0 ? s.subarray(skip) : s);
    skip = 0;
  }
  return out;
}
