import { describe, expect, it } from 'vitest';
import { StreamError } from '@xlkit/stream';
import { writeFailure } from './write-failure.js';

const errno = (code: string) => Object.assign(new Error(`${code}: write failed`), { code });

describe('writeFailure', () => {
  it('says ENOSPC in words, however deep in the cause chain, naming the file', () => {
    const sink = new StreamError('STREAM_IO', 'writing the stream failed', { cause: errno('ENOSPC') });
    expect(writeFailure(sink, '/v/d.save')).toBe('no space left on device writing /v/d.save');
    expect(writeFailure(new Error('outer', { cause: sink }), '/f')).toBe(
      'no space left on device writing /f',
    );
    expect(writeFailure(errno('EROFS'), '/f')).toBe('read-only file system writing /f');
  });

  it('is undefined for failures that are not a write errno', () => {
    expect(writeFailure(new StreamError('STREAM_IO', 'the output is closed'), '/f')).toBeUndefined();
    expect(writeFailure(errno('ECONNRESET'), '/f')).toBeUndefined();
    expect(writeFailure('text', '/f')).toBeUndefined();
  });
});
