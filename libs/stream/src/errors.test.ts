import { expect, test } from 'vitest';
import { StreamError, asStreamError } from './errors.js';

test('message is one line: code, byte offset, what, expected vs got', () => {
  const e = new StreamError('STREAM_BAD_VERSION', 'unsupported stream version', {
    offset: 8,
    expected: 2,
    actual: 3,
  });
  expect(e.message).toBe('STREAM_BAD_VERSION at byte 8: unsupported stream version; expected 2, got 3');
  expect(e).toMatchObject({ code: 'STREAM_BAD_VERSION', offset: 8, expected: 2, actual: 3 });
});

test('asStreamError wraps foreign errors with the cause chained and passes ours through', () => {
  const cause = new Error('boom');
  const w = asStreamError(cause, 'STREAM_IO', 'reading failed', { offset: 4 });
  expect(w.message).toBe('STREAM_IO at byte 4: reading failed: boom');
  expect(w.cause).toBe(cause);
  expect(asStreamError(w, 'STREAM_BAD_RECORD', 'x')).toBe(w);
});
