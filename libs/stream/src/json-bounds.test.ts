import { describe, expect, it } from 'vitest';
import { JSON_MAX_DEPTH, jsonDepthViolation } from './json-bounds.js';

const nested = (n: number) => '['.repeat(n) + ']'.repeat(n);

describe('jsonDepthViolation', () => {
  it('passes JSON up to the depth bound, whatever strings hold', () => {
    expect(jsonDepthViolation(nested(JSON_MAX_DEPTH))).toBeUndefined();
    expect(
      jsonDepthViolation('{"a":"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 4),
    ).toBeUndefined();
    expect(jsonDepthViolation('{"a\\"[[[[[":1}', 1)).toBeUndefined();
    expect(jsonDepthViolation('{"a":[{"b":[]}]}', 4)).toBeUndefined();
  });

  it('names the byte offset of the first bracket beyond the bound', () => {
    expect(jsonDepthViolation(nested(JSON_MAX_DEPTH + 1))).toEqual({
      offset: JSON_MAX_DEPTH,
      depth: JSON_MAX_DEPTH + 1,
    });
    // Offsets count UTF-8 bytes: "é" is two.
    expect(jsonDepthViolation('{"é":[[', 2)).toEqual({ offset: 7, depth: 3 });
  });

  it('stops at the bound in 16 MiB of nesting; scans wide shallow JSON to its end', () => {
    expect(jsonDepthViolation(Buffer.alloc(16 * 1024 * 1024, '['))?.offset).toBe(JSON_MAX_DEPTH);
    expect(jsonDepthViolation(`[${'[[]],'.repeat(100_000)}[]]`, 3)).toBeUndefined();
  });
});
