import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  blockdevAdd,
  blockdevDel,
  blockdevMirror,
  blockJobCancel,
  jobDismiss,
  queryBlockJobs,
} from '../commands/block.js';
import { blockExportAdd, nbdServerStart, nbdServerStop, unixSocketAddressLegacy } from '../commands/nbd.js';
import { humanMonitorCommand, quit } from '../commands/run-state.js';
import { waitForMirrorReady, type MirrorProgress } from '../helpers/wait-for-mirror-ready.js';
import { firstDifference, makeImage, rawDiskArgs, TestRig } from './qemu-process.js';

const SIZE = 256 * 1024 * 1024;
const rig = new TestRig();
afterEach(() => rig.cleanup());

describe('NBD mirror against real QEMU 7.2', () => {
  it('mirrors a 256 MiB disk to an NBD export, keeps tracking writes, and cancels to an identical copy', async () => {
    const dir = await rig.tempDir();
    const imgA = join(dir, 'a.raw');
    const imgB = join(dir, 'b.raw');
    await makeImage(imgA, SIZE, true);
    await makeImage(imgB, SIZE, false);
    const nbdSock = join(dir, 'nbd.sock');

    // B: the target, exporting its disk over NBD on a unix socket. vCPUs stay stopped (-S): no guest.
    const qemuB = rig.startQemu(join(dir, 'b.qmp'), ['-S', ...rawDiskArgs(imgB, 'disk0')]);
    // A: the source, its disk attached to a virtio-blk device so writes go through the device's backend.
    const qemuA = rig.startQemu(join(dir, 'a.qmp'), [
      '-S',
      ...rawDiskArgs(imgA, 'disk0'),
      '-device',
      'virtio-blk-pci,drive=disk0,id=vd0',
    ]);
    const b = await rig.connect(qemuB);
    const a = await rig.connect(qemuA);
    expect(a.greeting.version.qemu).toMatchObject({ major: 7, minor: 2 });

    await nbdServerStart(b, { addr: unixSocketAddressLegacy(nbdSock) });
    await blockExportAdd(b, {
      type: 'nbd',
      id: 'exp-disk0',
      'node-name': 'disk0',
      writable: true,
      name: 'disk0',
    });

    await blockdevAdd(a, {
      driver: 'nbd',
      'node-name': 'mig-disk0',
      server: { type: 'unix', path: nbdSock },
      export: 'disk0',
    });
    const progress: MirrorProgress[] = [];
    await blockdevMirror(a, {
      'job-id': 'mirror-disk0',
      device: 'disk0',
      target: 'mig-disk0',
      sync: 'full',
      'auto-dismiss': false,
    });
    const ready = await waitForMirrorReady(a, 'mirror-disk0', {
      pollMs: 200,
      timeoutMs: 240_000,
      onProgress: (p) => progress.push(p),
    });
    expect(ready[0]).toMatchObject({ jobId: 'mirror-disk0', ready: true, len: SIZE });
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((p) => p.jobId === 'mirror-disk0' && p.len === SIZE)).toBe(true);

    // Write while the mirror is READY: the job must carry the new data to the target.
    // (qemu-io prints its report on QEMU's stdout, so the reply text is empty; errors come back in it.)
    const vd0 = '/machine/peripheral/vd0/virtio-backend';
    expect(await humanMonitorCommand(a, { 'command-line': `qemu-io -d ${vd0} "write -P 0x5a 1M 4M"` })).toBe(
      '',
    );
    expect(
      await humanMonitorCommand(a, {
        'command-line': `qemu-io -d ${vd0} "write -P 0xa5 ${SIZE - 65536} 65536"`,
      }),
    ).toBe('');

    const completed = a.waitForEvent('BLOCK_JOB_COMPLETED', (e) => e.data['device'] === 'mirror-disk0', {
      timeoutMs: 120_000,
    });
    await blockJobCancel(a, { device: 'mirror-disk0' });
    const ev = await completed;
    expect(ev.data['error']).toBeUndefined();
    expect(ev.data['offset']).toBe(ev.data['len']);
    expect((await queryBlockJobs(a))[0]).toMatchObject({ device: 'mirror-disk0', status: 'concluded' });
    await jobDismiss(a, { id: 'mirror-disk0' });
    expect(await queryBlockJobs(a)).toEqual([]);
    await blockdevDel(a, { 'node-name': 'mig-disk0' });

    const deleted = b.waitForEvent('BLOCK_EXPORT_DELETED', undefined, { timeoutMs: 30_000 });
    await nbdServerStop(b);
    expect((await deleted).data).toEqual({ id: 'exp-disk0' });

    await quit(a);
    await quit(b);
    await Promise.all([qemuA.exited, qemuB.exited]);
    expect(await firstDifference(imgA, imgB)).toBe(-1);
    const fh = await open(imgB, 'r');
    try {
      const probe = Buffer.alloc(4);
      await fh.read(probe, 0, 4, 1024 * 1024);
      expect(probe).toEqual(Buffer.alloc(4, 0x5a));
      await fh.read(probe, 0, 4, SIZE - 4);
      expect(probe).toEqual(Buffer.alloc(4, 0xa5));
    } finally {
      await fh.close();
    }
  }, 300_000);
});
