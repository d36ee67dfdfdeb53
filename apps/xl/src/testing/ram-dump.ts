/**
 * Test-only (XLKIT_FAULT=ram-dump:DIR): each side writes the guest's RAM at its last moment
 * before the switch-over, so a test can compare them page by page. The sender writes
 * DIR/source.ram once QEMU reports the migration completed (its vCPUs stopped for good); the
 * receiver writes DIR/destination.ram after the stream's digest matched, before it resumes the
 * guest. Both sides' RAM is then final, so any difference is a write the migration lost. The
 * RAM stream's checks cannot see such a loss: they prove that the bytes QEMU sent arrived, not
 * that QEMU sent every page the guest wrote (as a QEMU 7.2 TCG dirty-tracking fault did).
 */
import path from 'node:path';
import type { QmpClient } from '@xlkit/qmp';

export type RamDumpSide = 'source' | 'destination';

/**
 * Guest physical memory from 0 (a guest under 3 GiB lies there in one piece on xl's machine),
 * all of it: the size is QEMU's own, RAM tail included (qemu/guest-ram.ts).
 */
export async function dumpGuestRam(qmp: QmpClient, dir: string, side: RamDumpSide): Promise<void> {
  const summary = await qmp.execute<{ 'base-memory'?: unknown }>('query-memory-size-summary');
  const size = summary['base-memory'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0)
    throw new Error(`ram-dump: query-memory-size-summary gave base-memory ${String(size)}`);
  await qmp.execute('pmemsave', { val: 0, size, filename: path.join(dir, `${side}.ram`) });
}
