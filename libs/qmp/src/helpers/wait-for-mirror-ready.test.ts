import { describe, expect, it } from 'vitest';
import { QmpJobError, QmpTimeoutError } from '../errors.js';
import { withFakeClient } from '../testing/index.js';
import { waitForMirrorReady, type MirrorProgress } from './wait-for-mirror-ready.js';

const job = (device: string, offset: number, ready: boolean): object => ({
  type: 'mirror',
  device,
  len: 1000,
  offset,
  busy: !ready,
  paused: false,
  speed: 0,
  'io-status': 'ok',
  ready,
  status: ready ? 'ready' : 'running',
  'auto-finalize': true,
  'auto-dismiss': false,
});

describe('waitForMirrorReady', () => {
  it('reports per-job progress until every job is ready', async () => {
    let polls = 0;
    await withFakeClient(
      {
        handlers: {
          'query-block-jobs': () => {
            polls++;
            return [
              job('a', Math.min(1000, polls * 400), polls >= 3),
              job('b', 1000, polls >= 2),
              job('other', 0, false),
            ];
          },
        },
      },
      async (c) => {
        const seen: MirrorProgress[] = [];
        const polls: string[][] = [];
        const final = await waitForMirrorReady(c, ['a', 'b'], {
          pollMs: 5,
          onProgress: (p) => seen.push(p),
          onPoll: (jobs) => polls.push(jobs.map((j) => j.jobId)),
        });
        expect(polls).toEqual([
          ['a', 'b'],
          ['a', 'b'],
          ['a', 'b'],
        ]);
        expect(final.map((p) => [p.jobId, p.ready])).toEqual([
          ['a', true],
          ['b', true],
        ]);
        expect(seen.filter((p) => p.jobId === 'a').map((p) => p.percent)).toEqual([40, 80, 100]);
        expect(seen.some((p) => p.jobId === 'other')).toBe(false);
      },
    );
  });

  it('wakes on BLOCK_JOB_READY without waiting for a poll', async () => {
    await withFakeClient(
      { handlers: { 'query-block-jobs': () => [job('a', 1000, false)] } },
      async (c, server) => {
        const p = waitForMirrorReady(c, 'a', { pollMs: 60_000 });
        await server.waitForCommand('query-block-jobs');
        server.emitEvent('BLOCK_JOB_READY', {
          type: 'mirror',
          device: 'a',
          len: 1000,
          offset: 1000,
          speed: 0,
        });
        expect((await p)[0]?.jobId).toBe('a');
      },
    );
  });

  it('fails with QmpJobError when the job completes with an error', async () => {
    await withFakeClient(
      { handlers: { 'query-block-jobs': () => [job('a', 10, false)] } },
      async (c, server) => {
        const p = waitForMirrorReady(c, 'a', { pollMs: 60_000 });
        await server.waitForCommand('query-block-jobs');
        server.emitEvent('BLOCK_JOB_COMPLETED', {
          type: 'mirror',
          device: 'a',
          len: 1000,
          offset: 10,
          speed: 0,
          error: 'Input/output error',
        });
        const err = await p.catch((e: unknown) => e);
        expect(err).toBeInstanceOf(QmpJobError);
        expect(err).toMatchObject({ code: 'QMP_JOB', jobId: 'a' });
        expect((err as Error).message).toContain('Input/output error');
      },
    );
  });

  it('fails when the job is missing and times out when it never converges', async () => {
    await withFakeClient({ handlers: { 'query-block-jobs': () => [job('slow', 1, false)] } }, async (c) => {
      await expect(waitForMirrorReady(c, 'gone', { pollMs: 5 })).rejects.toMatchObject({
        code: 'QMP_JOB',
        jobId: 'gone',
      });
      await expect(waitForMirrorReady(c, 'slow', { pollMs: 5, timeoutMs: 40 })).rejects.toBeInstanceOf(
        QmpTimeoutError,
      );
    });
  });
});
