import { describe, expect, it } from 'vitest';
import { withFakeClient } from '@xlkit/qmp/testing';
import { abortMirrors, finishMirrors, mirrorDisks, startMirrors, waitMirrorsReady } from './source-mirror.js';
import { MirrorError } from './mirror-error.js';

const exportsOf = {
  transport: 'tunnel' as const,
  disks: [
    { id: 'xvda', exportName: 'xlkit-xvda', target: '/t/a' },
    { id: 'xvdb', exportName: 'xlkit-xvdb', target: '/t/b' },
  ],
};
const disks = mirrorDisks(exportsOf);
const job = (device: string, extra: Record<string, unknown> = {}) => ({
  type: 'mirror',
  device,
  len: 100,
  offset: 100,
  busy: false,
  paused: false,
  speed: 0,
  'io-status': 'ok',
  ready: true,
  status: 'ready',
  'auto-finalize': true,
  'auto-dismiss': false,
  ...extra,
});

describe('source mirrors against the fake QMP server', () => {
  it('starts NBD nodes then all mirrors, background copy unless sync writes', async () => {
    await withFakeClient(
      { handlers: { 'blockdev-add': () => ({}), 'blockdev-mirror': () => ({}) } },
      async (c, server) => {
        await startMirrors(c, disks, { syncWrites: false, server: { type: 'unix', path: '/s' } });
        expect(server.commands.map((x) => x.execute).slice(1)).toEqual([
          'blockdev-add',
          'blockdev-add',
          'blockdev-mirror',
          'blockdev-mirror',
        ]);
        const m = server.commands.find((x) => x.execute === 'blockdev-mirror')!.arguments;
        expect(m).toMatchObject({
          'job-id': 'xlkit-mirror-xvda',
          device: 'disk-xvda',
          target: 'xlkit-nbd-xvda',
          sync: 'full',
          'copy-mode': 'background',
          'auto-dismiss': false,
        });
      },
    );
  });

  it('a failed start cleans up what it added', async () => {
    let adds = 0;
    await withFakeClient(
      {
        handlers: {
          'blockdev-add': () => (++adds === 2 ? Promise.reject(new Error('boom')) : {}),
          'query-block-jobs': () => [],
          'blockdev-del': () => ({}),
        },
      },
      async (c, server) => {
        await expect(
          startMirrors(c, disks, { syncWrites: true, server: { type: 'unix', path: '/s' } }),
        ).rejects.toThrow(MirrorError);
        expect(
          server.commands.filter((x) => x.execute === 'blockdev-del').map((x) => x.arguments?.['node-name']),
        ).toEqual(['xlkit-nbd-xvda', 'xlkit-nbd-xvdb']);
      },
    );
  });

  it('waits until every job is ready, and reports a failed job by disk', async () => {
    await withFakeClient(
      { handlers: { 'query-block-jobs': () => [job('xlkit-mirror-xvda'), job('xlkit-mirror-xvdb')] } },
      async (c) => {
        const seen: number[] = [];
        const p = await waitMirrorsReady(c, disks, {
          syncWrites: false,
          server: { type: 'unix', path: '/s' },
          onProgress: (d) => seen.push(d.length),
          pollMs: 5,
        });
        expect(p.every((d) => d.ready)).toBe(true);
        expect(seen[0]).toBe(2);
      },
    );
    await withFakeClient(
      {
        handlers: {
          'query-block-jobs': () => [
            job('xlkit-mirror-xvda'),
            job('xlkit-mirror-xvdb', { status: 'concluded', ready: false, error: 'Input/output error' }),
          ],
        },
      },
      async (c) => {
        await expect(
          waitMirrorsReady(c, disks, { syncWrites: false, server: { type: 'unix', path: '/s' }, pollMs: 5 }),
        ).rejects.toThrow(/disk xvdb: mirror failed: Input\/output error/);
      },
    );
  });

  it('reports a stalled mirror with its numbers', async () => {
    await withFakeClient(
      {
        handlers: {
          'query-block-jobs': () => [
            job('xlkit-mirror-xvda', { ready: false, status: 'running', len: 64 << 20, offset: 1 << 20 }),
            job('xlkit-mirror-xvdb'),
          ],
        },
      },
      async (c) => {
        await expect(
          waitMirrorsReady(c, disks, {
            syncWrites: false,
            server: { type: 'unix', path: '/s' },
            pollMs: 5,
            stallWindowMs: 50,
          }),
        ).rejects.toThrow(/disk xvda: mirror not converging: 63\.0 MiB still to copy/);
      },
    );
  });

  it('finishes at pre-switchover: cancel without force, then dismiss, then delete the nodes', async () => {
    let cancelled = false;
    await withFakeClient(
      {
        handlers: {
          'block-job-cancel': () => ((cancelled = true), {}),
          'query-block-jobs': () => [
            job('xlkit-mirror-xvda', cancelled ? { status: 'concluded' } : {}),
            job('xlkit-mirror-xvdb', cancelled ? { status: 'concluded' } : {}),
          ],
          'job-dismiss': () => ({}),
          'blockdev-del': () => ({}),
        },
      },
      async (c, server) => {
        await finishMirrors(c, disks);
        const cmds = server.commands.filter(
          (x) => x.execute !== 'query-block-jobs' && x.execute !== 'qmp_capabilities',
        );
        expect(cmds.map((x) => x.execute)).toEqual([
          'block-job-cancel',
          'block-job-cancel',
          'job-dismiss',
          'job-dismiss',
          'blockdev-del',
          'blockdev-del',
        ]);
        expect(cmds[0]!.arguments).toEqual({ device: 'xlkit-mirror-xvda', force: false });
      },
    );
  });

  it('finishes from the job events alone: no query-block-jobs in the downtime, dismiss and delete sent together', async () => {
    const ended = (
      server: { emitEvent: (e: string, d: Record<string, unknown>) => void },
      id: string,
      error?: string,
    ) => {
      server.emitEvent('JOB_STATUS_CHANGE', { status: 'waiting', id });
      server.emitEvent('BLOCK_JOB_COMPLETED', {
        type: 'mirror',
        device: id,
        len: 100,
        offset: 100,
        speed: 0,
        ...(error === undefined ? {} : { error }),
      });
      server.emitEvent('JOB_STATUS_CHANGE', { status: 'concluded', id });
    };
    await withFakeClient(
      {
        handlers: {
          'block-job-cancel': (args, { server }) => (ended(server, String(args.device)), {}),
          'query-block-jobs': () => {
            throw new Error('polled');
          },
          'job-dismiss': () => ({}),
          'blockdev-del': () => ({}),
        },
      },
      async (c, server) => {
        await finishMirrors(c, disks); // a poll would have failed it
        expect(server.commands.map((x) => x.execute).slice(1)).toEqual([
          'block-job-cancel',
          'block-job-cancel',
          'job-dismiss',
          'job-dismiss',
          'blockdev-del',
          'blockdev-del',
        ]);
      },
    );
    await withFakeClient(
      {
        handlers: {
          'block-job-cancel': (args, { server }) => (
            ended(server, String(args.device), 'Input/output error'),
            {}
          ),
        },
      },
      async (c, server) => {
        await expect(finishMirrors(c, disks.slice(0, 1))).rejects.toThrow(
          /finishing the disk mirrors failed: xlkit-mirror-xvda: Input\/output error/,
        );
        expect(server.commands.map((x) => x.execute)).not.toContain('job-dismiss');
      },
    );
  });

  it('aborts with force, dismisses, deletes; a job ending in error at finish fails the migration', async () => {
    let gone = false;
    await withFakeClient(
      {
        handlers: {
          'query-block-jobs': () =>
            gone ? [] : [job('xlkit-mirror-xvda', { status: 'running', ready: false })],
          'block-job-cancel': () => ((gone = true), {}),
          'blockdev-del': () => ({}),
        },
      },
      async (c, server) => {
        await abortMirrors(c, disks);
        expect(server.commands.find((x) => x.execute === 'block-job-cancel')!.arguments).toEqual({
          device: 'xlkit-mirror-xvda',
          force: true,
        });
        expect(server.commands.filter((x) => x.execute === 'blockdev-del')).toHaveLength(2);
      },
    );
    await withFakeClient(
      {
        handlers: {
          'block-job-cancel': () => ({}),
          'query-block-jobs': () => [
            job('xlkit-mirror-xvda', { status: 'concluded', error: 'No space left on device' }),
          ],
        },
      },
      async (c) => {
        await expect(finishMirrors(c, disks.slice(0, 1))).rejects.toThrow(
          /finishing the disk mirrors failed: xlkit-mirror-xvda: No space left on device/,
        );
      },
    );
  });
});
