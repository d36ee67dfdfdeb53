import { describe, expect, it } from 'vitest';
import { XL_HEADER_FIXED_SIZE } from './constants.js';
import { StreamError } from './errors.js';
import { JSON_MAX_DEPTH } from './json-bounds.js';
import { decodeXlHeader, encodeXlHeader } from './xl-header.js';

describe('xl header config from a save file or a peer', () => {
  it('refuses a config nesting deeper than JSON_MAX_DEPTH, at its byte offset, before parsing', () => {
    const depth = 1_000_000;
    const header = encodeXlHeader(`${'['.repeat(depth)}${']'.repeat(depth)}`);
    let err: unknown;
    try {
      decodeXlHeader(header);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StreamError);
    expect((err as StreamError).code).toBe('STREAM_BAD_CONFIG');
    // The config text starts after the fixed part and its 4-byte length.
    expect((err as StreamError).offset).toBe(XL_HEADER_FIXED_SIZE + 4 + JSON_MAX_DEPTH);
    expect((err as StreamError).message).toMatch(/config JSON nests too deep/);
  });

  it('still decodes an ordinary config', () => {
    const cfg = { name: 'a', disks: [{ target: '/x' }] };
    expect(decodeXlHeader(encodeXlHeader(cfg)).config).toEqual(cfg);
  });
});
