import { describe, expect, test } from 'vitest';
import { resolveLogDir, SYSTEM_LOG_DIR } from './log-dir.js';

describe('resolveLogDir', () => {
  test('--log-dir, then XL_LOG_DIR', () => {
    expect(resolveLogDir('rel/logs', '/run/xl', false, { XL_LOG_DIR: '/x' }, 0)).toBe(
      `${process.cwd()}/rel/logs`,
    );
    expect(resolveLogDir(undefined, '/run/xl', false, { XL_LOG_DIR: '/x' }, 0)).toBe('/x');
  });

  test("/var/log/xl for root's system xl; an instance of its own keeps its logs in its state dir", () => {
    expect(resolveLogDir(undefined, '/run/xl', false, {}, 0)).toBe(SYSTEM_LOG_DIR);
    expect(resolveLogDir(undefined, '/tmp/a', true, {}, 0)).toBe('/tmp/a/logs');
    expect(resolveLogDir('', '/run/user/1000/xl', false, { XL_LOG_DIR: '' }, 1000)).toBe(
      '/run/user/1000/xl/logs',
    );
  });
});
