import { readFile } from 'node:fs/promises';
import { describe, expect, test } from 'vitest';
import { systemErrorWords } from './errors.js';

describe('systemErrorWords', () => {
  test('an errno error in words, never its code', async () => {
    const err = await readFile('/nonexistent/xl.cfg').catch((e: unknown) => e);
    expect(systemErrorWords(err)).toBe('no such file or directory');
    expect(systemErrorWords(Object.assign(new Error('x'), { code: 'EACCES' }))).toBe('permission denied');
  });

  test('anything else: its message', () => {
    expect(systemErrorWords(new Error('disk on fire'))).toBe('disk on fire');
    expect(systemErrorWords(Object.assign(new Error('odd'), { code: 'ENOTACODE' }))).toBe('odd');
    expect(systemErrorWords('text')).toBe('text');
  });
});
