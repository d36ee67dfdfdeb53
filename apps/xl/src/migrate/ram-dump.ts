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

/** Guest physical memory from 0 (a guest under 3 GiB lies there in one piece on xl's machine). */
export async function dumpGuestRam(qmp: QmpClient, memoryMiB: number, dir: string, side: RamDumpSide): Promise<void> {
  await qmp.execute('pmemsave', { val: 0, size: memoryMiB * 1024 * 1024, filename: path.join(dir, `${side}.ram`) });
}
