import { describe, expect, it } from 'vitest';
import { withFakeClient } from '../testing/index.js';
import {
  blockdevAdd,
  blockdevDel,
  blockdevMirror,
  blockJobCancel,
  blockJobComplete,
  blockJobSetSpeed,
  driveMirror,
  jobDismiss,
  queryBlock,
  queryBlockJobs,
  queryNamedBlockNodes,
} from './block.js';

describe('block commands', () => {
  it('pass QEMU 7.2 argument names through unchanged', async () => {
    const ok = (): object => ({});
    await withFakeClient(
      {
        handlers: {
          'blockdev-add': ok,
          'blockdev-del': ok,
          'blockdev-mirror': ok,
          'drive-mirror': ok,
          'block-job-cancel': ok,
          'block-job-complete': ok,
          'block-job-set-speed': ok,
          'job-dismiss': ok,
          'query-block': () => [{ device: '', qdev: 'd0', type: 'unknown', removable: false, locked: false }],
          'query-named-block-nodes': () => [{ 'node-name': 'disk0', drv: 'raw', file: '/x', ro: false }],
          'query-block-jobs': () => [],
        },
      },
      async (c, server) => {
        await blockdevAdd(c, {
          driver: 'nbd',
          'node-name': 'mig-disk0',
          server: { type: 'unix', path: '/s' },
          export: 'disk0',
        });
        await blockdevMirror(c, {
          'job-id': 'm0',
          device: 'disk0',
          target: 'mig-disk0',
          sync: 'full',
          'copy-mode': 'write-blocking',
          'auto-dismiss': false,
        });
        await driveMirror(c, {
          device: 'disk0',
          target: 'nbd:unix:/s:exportname=disk0',
          sync: 'full',
          mode: 'existing',
          format: 'nbd',
        });
        await blockJobSetSpeed(c, { device: 'm0', speed: 1 << 20 });
        await blockJobCancel(c, { device: 'm0' });
        await blockJobCancel(c, { device: 'm0', force: true });
        await blockJobComplete(c, { device: 'm0' });
        await jobDismiss(c, { id: 'm0' });
        await blockdevDel(c, { 'node-name': 'mig-disk0' });
        expect((await queryBlock(c))[0]?.qdev).toBe('d0');
        expect((await queryNamedBlockNodes(c, { flat: true }))[0]?.['node-name']).toBe('disk0');
        expect(await queryBlockJobs(c)).toEqual([]);
        const sent = server.commands.slice(1);
        expect(sent.map((x) => [x.execute, x.arguments])).toEqual([
          [
            'blockdev-add',
            {
              driver: 'nbd',
              'node-name': 'mig-disk0',
              server: { type: 'unix', path: '/s' },
              export: 'disk0',
            },
          ],
          [
            'blockdev-mirror',
            {
              'job-id': 'm0',
              device: 'disk0',
              target: 'mig-disk0',
              sync: 'full',
              'copy-mode': 'write-blocking',
              'auto-dismiss': false,
            },
          ],
          [
            'drive-mirror',
            {
              device: 'disk0',
              target: 'nbd:unix:/s:exportname=disk0',
              sync: 'full',
              mode: 'existing',
              format: 'nbd',
            },
          ],
          ['block-job-set-speed', { device: 'm0', speed: 1048576 }],
          ['block-job-cancel', { device: 'm0' }],
          ['block-job-cancel', { device: 'm0', force: true }],
          ['block-job-complete', { device: 'm0' }],
          ['job-dismiss', { id: 'm0' }],
          ['blockdev-del', { 'node-name': 'mig-disk0' }],
          ['query-block', undefined],
          ['query-named-block-nodes', { flat: true }],
          ['query-block-jobs', undefined],
        ]);
      },
    );
  });
});
