import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TIMEOUT_MS,
  defaultTimeoutFor,
  LONG_TIMEOUT_MS,
  QUERY_TIMEOUT_MS,
} from './default-timeouts.js';

describe('defaultTimeoutFor', () => {
  it('is short for queries, long for block-job and migration commands', () => {
    expect(defaultTimeoutFor('query-migrate')).toBe(QUERY_TIMEOUT_MS);
    expect(defaultTimeoutFor('query-block-jobs')).toBe(QUERY_TIMEOUT_MS);
    for (const cmd of [
      'blockdev-mirror',
      'drive-mirror',
      'block-job-cancel',
      'job-dismiss',
      'migrate',
      'migrate_cancel',
      'migrate-incoming',
      'nbd-server-start',
      'block-export-add',
    ]) {
      expect(defaultTimeoutFor(cmd)).toBe(LONG_TIMEOUT_MS);
    }
    expect(defaultTimeoutFor('qmp_capabilities')).toBe(DEFAULT_TIMEOUT_MS);
    expect(QUERY_TIMEOUT_MS).toBeLessThan(DEFAULT_TIMEOUT_MS);
    expect(DEFAULT_TIMEOUT_MS).toBeLessThan(LONG_TIMEOUT_MS);
  });
});
