/** What both directions of the RAM path report, and how they fail on Ctrl-C. */
import type { MigrationProgress } from '@xlkit/qmp';
import { XlError } from '../errors.js';

export interface RamTransferResult {
  /** RAM stream payload bytes. */
  bytes: number;
  chunks: number;
  /** crc-list-sha256 of RAM_END. */
  digest: Buffer;
  /** QEMU's final view of the migration. */
  migration: MigrationProgress;
}

export function interrupted(): XlError {
  return new XlError('XL_INTERRUPTED', 'interrupted');
}
