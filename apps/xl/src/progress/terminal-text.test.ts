/* eslint-disable no-control-regex -- these tests look for control characters */
import { describe, expect, it } from 'vitest';
import { oneLine, safeJson, safeLines } from './terminal-text.js';

describe('terminal text', () => {
  it('shows control characters and bidi overrides as escapes, keeps other text', () => {
    expect(oneLine('a\x1b[31mb\x07\0\r\n\tc\x7f\x9b\u202e\u2066é€😀')).toBe(
      'a\\x1b[31mb\\x07\\0\\r\\n\\tc\\x7f\\x9b\\u202e\\u2066é€😀',
    );
    expect(oneLine('plain: text, 1/2 (ok)')).toBe('plain: text, 1/2 (ok)');
  });

  it('safeLines keeps the newlines and tabs of the text, each line made safe', () => {
    expect(safeLines('one\x1b[2J\ntwo\r')).toBe('one\\x1b[2J\ntwo\\r');
    expect(safeLines('VCPUs\tState\tTime(s)\x08')).toBe('VCPUs\tState\tTime(s)\\x08');
  });

  it('safeJson is the same JSON value with nothing a terminal acts on', () => {
    const v = { s: 'x\x1b\x9b\u202e\0', n: 1 };
    const text = safeJson(v);
    expect(text).not.toMatch(/[\x00-\x1f\x7f-\x9f\u202e]/);
    expect(JSON.parse(text)).toEqual(v);
  });
});
