/**
 * Source side of phase 2: an NBD block node per disk, `blockdev-mirror sync=full` for all
 * disks at once, per-disk progress until every job is READY, with stall detection. At
 * pre-switchover the READY mirrors are cancelled without force (each target keeps a
 * consistent copy), dismissed and their NBD nodes deleted; on any failure before that they
 * are force-cancelled and cleaned up the same way.
 *
 * Copy mode: background by default. READY then means the bulk copy is done and new writes
 * are tracked; the final dirty blocks are flushed at pre-switchover while the vCPUs are
 * stopped (before QEMU inactivates the disks), so the target is consistent without making
 * every guest write wait for a round trip to the receiver. A guest that dirties faster than
 * the copy shows up as a stall and is aborted with the numbers; `--sync-writes` selects
 * write-blocking instead (each guest write goes to both sides, so the mirror always
 * converges, at the cost of write latency). On QEMU 7.2 the mode is fixed when the job starts.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  blockdevAdd,
  blockdevDel,
  blockdevMirror,
  blockJobCancel,
  jobDismiss,
  queryBlockJobs,
  waitForMirrorReady,
  QmpJobError,
  QmpTimeoutError,
  type BlockJobInfo,
  type EventListener,
  type MirrorProgress,
  type QmpClient,
  type SocketAddress,
} from '@xlkit/qmp';
import type { DiskExports, MigrationKey } from '@xlkit/stream';
import { diskNodeName } from '../qemu/argv.js';
import { addPskClient, removePsk } from '../qemu/tls-psk.js';
import { ConvergenceWatch } from './convergence.js';
import { MirrorError } from './mirror-error.js';

export interface MirrorDisk {
  id: string;
  jobId: string;
  nbdNode: string;
  exportName: string;
}

export interface DiskProgress {
  id: string;
  offset: number;
  len: number;
  ready: boolean;
  status: string;
}

export interface MirrorOptions {
  syncWrites: boolean;
  /** Where the NBD server is, from the source's point of view. */
  server: SocketAddress;
  /** A TCP server takes only TLS-PSK with the migration's key (`dir` holds it for QEMU a moment). */
  tls?: { key: MigrationKey; dir: string };
  onProgress?: (disks: DiskProgress[]) => void;
  /** query-block-jobs interval (500 ms). */
  pollMs?: number;
  /** Stall window for the convergence check (60 s). */
  stallWindowMs?: number;
  signal?: AbortSignal;
}

/** The source QEMU's TLS credentials object for the NBD nodes (direct, TCP). */
export const NBD_CLIENT_TLS_ID = 'xlkit-nbd-client-tls';

/**
 * The NBD nodes are gone: so goes the key QEMU held for them (quiet when there is none). Not
 * in finishMirrors, which runs while the vCPUs are stopped: a source that migrated away is
 * destroyed with its key, one that is resumed goes through abortMirrors or MirrorSender.abort.
 */
export async function dropClientTls(qmp: QmpClient): Promise<void> {
  await qmp.execute('object-del', { id: NBD_CLIENT_TLS_ID }).catch(() => undefined);
}

export function mirrorDisks(exports: DiskExports): MirrorDisk[] {
  return exports.disks.map((d) => ({
    id: d.id,
    jobId: `xlkit-mirror-${d.id}`,
    nbdNode: `xlkit-nbd-${d.id}`,
    exportName: d.exportName,
  }));
}

export function nbdServerOf(exports: DiskExports, tunnelSocket: string): SocketAddress {
  if (exports.transport === 'direct' && exports.socket !== undefined)
    return { type: 'unix', path: exports.socket };
  if (exports.transport === 'direct')
    return { type: 'inet', host: exports.host ?? '', port: String(exports.port) };
  return { type: 'unix', path: tunnelSocket };
}

function interrupted(signal?: AbortSignal): void {
  if (signal?.aborted) throw new MirrorError('mirror', 'interrupted while mirroring the disks');
}

/** Adds the NBD nodes and starts every mirror; anything half-done is cleaned up on failure. */
export async function startMirrors(
  qmp: QmpClient,
  disks: readonly MirrorDisk[],
  o: MirrorOptions,
): Promise<void> {
  try {
    if (o.tls !== undefined) {
      // A killed xl's object may linger (recover-migration.ts): this migration brings its own key.
      await removePsk(qmp, { id: NBD_CLIENT_TLS_ID, dir: o.tls.dir });
      await addPskClient(qmp, { id: NBD_CLIENT_TLS_ID, dir: o.tls.dir }, o.tls.key);
    }
    for (const d of disks) {
      await blockdevAdd(qmp, {
        driver: 'nbd',
        'node-name': d.nbdNode,
        server: o.server,
        export: d.exportName,
        ...(o.tls === undefined ? {} : { 'tls-creds': NBD_CLIENT_TLS_ID }),
      });
    }
    for (const d of disks) {
      await blockdevMirror(qmp, {
        'job-id': d.jobId,
        device: diskNodeName({ vdev: d.id }),
        target: d.nbdNode,
        sync: 'full',
        'copy-mode': o.syncWrites ? 'write-blocking' : 'background',
        'auto-dismiss': false,
      });
    }
  } catch (err) {
    await abortMirrors(qmp, disks);
    throw new MirrorError('mirror', `starting the disk mirrors failed: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Waits until every job is READY (@xlkit/qmp's waitForMirrorReady, which also fails on a job
 * that errors, ends or vanishes); each poll reports all disks at once, checks the abort
 * signal and each job's convergence. Failures name the disk.
 */
export async function waitMirrorsReady(
  qmp: QmpClient,
  disks: readonly MirrorDisk[],
  o: MirrorOptions,
): Promise<DiskProgress[]> {
  const watches = new Map(disks.map((d) => [d.jobId, new ConvergenceWatch(o.stallWindowMs ?? 60_000)]));
  const diskOf = new Map(disks.map((d) => [d.jobId, d]));
  const onPoll = (jobs: MirrorProgress[]) => {
    interrupted(o.signal);
    const progress = disks.map((d) =>
      toProgress(
        d,
        jobs.find((j) => j.jobId === d.jobId),
      ),
    );
    o.onProgress?.(progress);
    for (const [i, d] of disks.entries()) {
      const p = progress[i] as DiskProgress;
      if (p.ready) continue;
      const stall = watches.get(d.jobId)?.sample({ remaining: p.len - p.offset, at: performance.now() });
      if (stall) {
        throw new MirrorError(
          'not-converging',
          `disk ${d.id}: mirror not converging: ${mib(stall.remaining)} MiB still to copy, no progress below ${mib(stall.lowest)} MiB for ${Math.round(stall.sinceMs / 1000)} s (the guest writes faster than the copy; retry with --sync-writes)`,
        );
      }
    }
    return progress;
  };
  interrupted(o.signal);
  try {
    const final = await waitForMirrorReady(
      qmp,
      disks.map((d) => d.jobId),
      {
        pollMs: o.pollMs ?? 500,
        onPoll,
      },
    );
    return disks.map((d) =>
      toProgress(
        d,
        final.find((j) => j.jobId === d.jobId),
      ),
    );
  } catch (err) {
    if (!(err instanceof QmpJobError)) throw err;
    const d = diskOf.get(err.jobId);
    throw new MirrorError(
      'mirror',
      `disk ${d?.id ?? err.jobId}: mirror failed${err.jobError === undefined ? ` (${err.message})` : `: ${err.jobError}`}`,
      { cause: err },
    );
  }
}

function mib(n: number): string {
  return (n / 1024 / 1024).toFixed(1);
}

function toProgress(d: MirrorDisk, job: BlockJobInfo | MirrorProgress | undefined): DiskProgress {
  return {
    id: d.id,
    offset: job?.offset ?? 0,
    len: job?.len ?? 0,
    ready: job?.ready === true,
    status: job?.status ?? 'missing',
  };
}

/** A job that reached `concluded`, with its error if it failed. */
interface EndedJob {
  device: string;
  error?: string;
}

/** The job-ending events; a listener made before the cancel sees every one of them. */
const JOB_ENDS = ['BLOCK_JOB_COMPLETED', 'BLOCK_JOB_CANCELLED', 'JOB_STATUS_CHANGE'] as const;

/**
 * Until every job concluded. Each job's events say so without a query: its error comes with
 * BLOCK_JOB_COMPLETED, and JOB_STATUS_CHANGE to `concluded` is the last event before it may be
 * dismissed. `events` must have been listening since before the cancel; a job that ended
 * before that shows up in query-block-jobs, asked whenever 50 ms pass without an event. At
 * pre-switchover this runs in the downtime.
 */
async function waitConcluded(
  qmp: QmpClient,
  jobIds: readonly string[],
  timeoutMs: number,
  events: EventListener,
): Promise<EndedJob[]> {
  const deadline = Date.now() + timeoutMs;
  const errors = new Map<string, string>();
  const concluded = new Set<string>();
  const done = () => jobIds.every((id) => concluded.has(id));
  const ended = (device: string, error: string | undefined): EndedJob =>
    error === undefined ? { device } : { device, error };
  let query = false;
  for (;;) {
    if (query) {
      const jobs = (await queryBlockJobs(qmp)).filter((j) => jobIds.includes(j.device));
      if (jobs.every((j) => j.status === 'concluded' || j.status === 'null'))
        return jobs.map((j) => ended(j.device, j.error));
      if (Date.now() > deadline)
        throw new MirrorError(
          'mirror',
          `mirror jobs did not finish in ${timeoutMs / 1000} s: ${jobs.map((j) => `${j.device} ${j.status}`).join(', ')}`,
        );
    }
    const ev = await events.get({ timeoutMs: 50 }).catch((err: unknown) => {
      if (err instanceof QmpTimeoutError) return undefined;
      throw err;
    });
    query = ev === undefined;
    if (ev === undefined) continue;
    const id = String(ev.data.device ?? ev.data.id ?? '');
    if (ev.event === 'BLOCK_JOB_COMPLETED' && typeof ev.data.error === 'string')
      errors.set(id, ev.data.error);
    if (ev.event === 'JOB_STATUS_CHANGE' && ev.data.status === 'concluded') concluded.add(id);
    if (done()) return jobIds.map((device) => ended(device, errors.get(device)));
  }
}

/**
 * At pre-switchover (vCPUs stopped): cancel every READY mirror without force, so each one
 * flushes its last dirty blocks and ends with a consistent target; then dismiss the jobs and
 * delete the NBD nodes (sent together: QEMU runs them in order). Throws if any job ends with
 * an error (the target is not usable).
 */
export async function finishMirrors(
  qmp: QmpClient,
  disks: readonly MirrorDisk[],
  timeoutMs = 120_000,
): Promise<void> {
  const events = qmp.listen(JOB_ENDS);
  let jobs: EndedJob[];
  try {
    await Promise.all(disks.map((d) => blockJobCancel(qmp, { device: d.jobId, force: false })));
    jobs = await waitConcluded(
      qmp,
      disks.map((d) => d.jobId),
      timeoutMs,
      events,
    );
  } finally {
    events.close();
  }
  const failed = jobs.filter((j) => j.error !== undefined);
  if (failed.length > 0)
    throw new MirrorError(
      'mirror',
      `finishing the disk mirrors failed: ${failed.map((j) => `${j.device}: ${j.error}`).join('; ')}`,
    );
  await Promise.all([
    ...disks.map((d) => jobDismiss(qmp, { id: d.jobId })),
    ...disks.map((d) => blockdevDel(qmp, { 'node-name': d.nbdNode })),
  ]);
}

/** Failure path: force-cancel, dismiss, delete the NBD nodes. Best effort and idempotent. */
export async function abortMirrors(qmp: QmpClient, disks: readonly MirrorDisk[]): Promise<void> {
  const ids = disks.map((d) => d.jobId);
  const present = async () =>
    (await queryBlockJobs(qmp).catch(() => [] as BlockJobInfo[])).filter((j) => ids.includes(j.device));
  const events = qmp.listen(JOB_ENDS);
  try {
    for (const j of await present()) {
      if (j.status !== 'concluded')
        await blockJobCancel(qmp, { device: j.device, force: true }).catch(() => undefined);
    }
    await waitConcluded(qmp, ids, 30_000, events).catch(() => undefined);
  } finally {
    events.close();
  }
  for (const j of await present()) await jobDismiss(qmp, { id: j.device }).catch(() => undefined);
  for (const d of disks) {
    for (let i = 0; i < 50; i++) {
      const ok = await blockdevDel(qmp, { 'node-name': d.nbdNode }).then(
        () => true,
        (err: Error) => /not found|Cannot find/i.test(err.message),
      );
      if (ok) break;
      await sleep(100);
    }
  }
  await dropClientTls(qmp);
}
