import { queryBlockJobs, type BlockJobInfo, type JobStatus } from '../commands/block.js';
import { QmpJobError, QmpTimeoutError } from '../errors.js';
import type { QmpClient } from '../qmp-client.js';
import type { QmpEvent } from '../types.js';

export interface MirrorProgress {
  jobId: string;
  status: JobStatus;
  offset: number;
  len: number;
  /** offset/len in percent (100 once ready with nothing left). */
  percent: number;
  ready: boolean;
  speed: number;
}

export interface WaitForMirrorReadyOptions {
  /** Called for every job at every poll of `query-block-jobs`. */
  onProgress?: (p: MirrorProgress) => void;
  /** Called once per poll with every job's snapshot (in the order given); may throw to stop the wait. */
  onPoll?: (jobs: MirrorProgress[]) => void;
  /** Total time allowed (0 or absent = none). */
  timeoutMs?: number;
  /** Poll interval for `query-block-jobs` (default 500 ms); READY events end the wait sooner. */
  pollMs?: number;
}

const JOB_EVENTS = ['BLOCK_JOB_READY', 'BLOCK_JOB_COMPLETED', 'BLOCK_JOB_CANCELLED', 'BLOCK_JOB_ERROR'];

function progressOf(job: BlockJobInfo): MirrorProgress {
  const percent = job.len > 0 ? Math.min(100, (job.offset / job.len) * 100) : job.ready ? 100 : 0;
  return {
    jobId: job.device,
    status: job.status,
    offset: job.offset,
    len: job.len,
    percent,
    ready: job.ready,
    speed: job.speed,
  };
}

/**
 * Waits until every listed mirror job is READY (converged), reporting progress per job. Fails with a
 * QmpJobError if a job ends, is cancelled, reports an error or disappears first.
 */
export async function waitForMirrorReady(
  c: QmpClient,
  jobIds: string | readonly string[],
  opts: WaitForMirrorReadyOptions = {},
): Promise<MirrorProgress[]> {
  const ids = new Set(typeof jobIds === 'string' ? [jobIds] : jobIds);
  const deadline = opts.timeoutMs ? Date.now() + opts.timeoutMs : Infinity;
  const pollMs = opts.pollMs ?? 500;
  const ready = new Set<string>();
  const listener = c.listen(JOB_EVENTS, (ev) => ids.has(String(ev.data['device'])));
  const onEvent = (ev: QmpEvent): void => {
    const id = String(ev.data['device']);
    if (ev.event === 'BLOCK_JOB_READY') ready.add(id);
    else if (ev.event === 'BLOCK_JOB_ERROR') {
      if (ev.data['action'] !== 'ignore') {
        throw new QmpJobError(
          id,
          `mirror ${id}: expected READY, got a ${String(ev.data['operation'])} error (action ${String(ev.data['action'])})`,
        );
      }
    } else {
      const jobError =
        ev.data['error'] === undefined || ev.data['error'] === '' ? undefined : String(ev.data['error']);
      throw new QmpJobError(
        id,
        `mirror ${id}: expected READY, got ${ev.event}${jobError === undefined ? '' : `: ${jobError}`}`,
        { jobError },
      );
    }
  };
  try {
    for (;;) {
      while (listener.size > 0) onEvent(await listener.get());
      const jobs = new Map((await queryBlockJobs(c)).map((j) => [j.device, j]));
      const snapshots: MirrorProgress[] = [];
      for (const id of ids) {
        const job = jobs.get(id);
        if (job === undefined) {
          while (listener.size > 0) onEvent(await listener.get());
          throw new QmpJobError(
            id,
            `mirror ${id}: expected a running block job, got none in query-block-jobs`,
          );
        }
        if (job.error !== undefined || job.status === 'concluded' || job.status === 'aborting') {
          throw new QmpJobError(
            id,
            `mirror ${id}: expected READY, got status ${job.status}${job.error ? `: ${job.error}` : ''}`,
            { jobError: job.error || undefined },
          );
        }
        if (job.ready) ready.add(id);
        const p = progressOf(job);
        snapshots.push(p);
        opts.onProgress?.(p);
      }
      opts.onPoll?.(snapshots);
      if ([...ids].every((id) => ready.has(id))) return snapshots;
      const left = deadline - Date.now();
      if (left <= 0)
        throw new QmpTimeoutError(`waiting for mirror READY of ${[...ids].join(', ')}`, opts.timeoutMs ?? 0);
      try {
        onEvent(await listener.get({ timeoutMs: Math.min(pollMs, left) }));
      } catch (err) {
        if (!(err instanceof QmpTimeoutError)) throw err;
      }
    }
  } finally {
    listener.close();
  }
}
