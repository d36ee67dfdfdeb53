import { describe, expect, it } from 'vitest';
import { checkStatus, parseReply, parseRequest } from './control-protocol.js';

const STATUS = {
  domain: 'web',
  host: 'h',
  phase: 'switchover',
  bytes: 0,
  rate: 0,
  elapsed: 0,
  abortable: false,
  aborted: false,
};

describe('control protocol', () => {
  it('reads the three commands and nothing else', () => {
    for (const command of ['status', 'abort', 'postcopy'] as const)
      expect(parseRequest(JSON.stringify({ command, junk: 1 }))).toEqual({ command });
    expect(() => parseRequest('{"command":"__proto__"}')).toThrow(/expected a command/);
    expect(() => parseRequest('{"command":1}')).toThrow(/got 1/);
    expect(() => parseRequest('null')).toThrow(/got null/);
    expect(() => parseRequest(`{"command":${'['.repeat(2000)}`)).toThrow(
      /nesting at most 32 deep, got deeper at byte 42/,
    );
  });

  it('keeps only known status fields, optional ones only when given', () => {
    expect(checkStatus({ ...STATUS, pass: 3, evil: { a: 1 } })).toEqual({ ...STATUS, pass: 3 });
    expect(() => checkStatus({ ...STATUS, elapsed: Number.NaN })).toThrow(/status.elapsed/);
    expect(() => checkStatus({ ...STATUS, domain: undefined })).toThrow(/status.domain/);
    expect(() => checkStatus([])).toThrow(/got an array/);
  });

  it('an ok reply to abort or postcopy carries nothing else', () => {
    expect(parseReply('{"ok":true,"status":"x"}', 'abort')).toEqual({ ok: true });
  });
});
