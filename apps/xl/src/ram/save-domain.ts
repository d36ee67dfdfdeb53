/**
 * xl save: stop the domain, write xl header + stream header + PHASE 1 DOMAIN_INFO + PHASE 3
 * RAM stream + END to FILE (atomically), then destroy it or leave it running/paused. On any
 * failure or interrupt: no FILE, the migration cancelled, the domain resumed as it was.
 */
import { cont, stop, type QmpClient } from '@xlkit/qmp';
import { Phase, StreamWriter } from '@xlkit/stream';
import type { DomainConfig } from '../config/domain-config.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { destroyDomain } from '../domain/destroy.js';
import { assertNotMigratedAway } from '../domain/guard.js';
import { connectQmp, leavePostmigrate } from '../domain/qmp.js';
import { XlError } from '../errors.js';
import type { ProgressReporter } from '../progress/reporter.js';
import { AtomicFile } from './atomic-file.js';
import { writeFailure } from './write-failure.js';
import { dropPageCache } from './page-cache.js';
import { collectDomainInfo } from './domain-info.js';
import { sendRam } from './outgoing.js';

export type AfterSave = 'destroy' | 'running' | 'paused';

export interface SaveOptions {
  file: string;
  /** Stored in the file instead of the domain's own config (xl save's CONFIG argument). */
  config?: DomainConfig;
  after: AfterSave;
  /** max-bandwidth in bytes/s (default unlimited). */
  maxBandwidth?: number;
  signal?: AbortSignal;
  progress?: ProgressReporter;
}

export interface SaveResult {
  /** Size of FILE. */
  fileBytes: number;
  /** RAM stream payload bytes. */
  ramBytes: number;
  seconds: number;
  digest: string;
  wasRunning: boolean;
  /** Where the domain is now. */
  domainState: 'destroyed' | 'running' | 'paused';
  /** The helper process freeing the file FILE replaced, if one was started (replaced-file.ts). */
  replacedFreedBy?: number;
}

/** The record without the marks of a save in progress. */
export function withoutSaving(r: DomainRecord): DomainRecord {
  const { saving: _saving, ownerPid: _owner, ...rest } = r;
  return rest;
}

async function resume(qmp: QmpClient): Promise<void> {
  await cont(qmp);
}

export async function saveDomain(
  store: DomainStore,
  record: DomainRecord,
  options: SaveOptions,
): Promise<SaveResult> {
  assertNotMigratedAway(record, 'save');
  const started = performance.now();
  const progress = options.progress;
  const qmp = await connectQmp(store, record);
  let wasRunning = false;
  let stopped = false;
  let committed = false;
  let file: AtomicFile | undefined;
  try {
    // While the guest still runs, alongside the QMP queries: an old FILE's cache is freed for
    // its replacement (page-cache.ts).
    const dropped = dropPageCache(options.file);
    const info = await collectDomainInfo(qmp, record.config.disks).finally(() => dropped);
    wasRunning = (await leavePostmigrate(qmp)).running;
    // While the guest runs: FILE refused unless absent or a regular file, the partial file
    // created (its directory exists and takes it).
    file = await AtomicFile.create(options.file);
    // Recorded before the guest stops: should this xl die, the next one removes the partial
    // file (by inode: the record proves which file xl made) and resumes the domain
    // (recoverAbandonedSaves).
    const saving = { partial: file.partial, wasRunning };
    await store.update(record.id, (r) => ({ ...r, status: 'saving', ownerPid: process.pid, saving }));
    if (wasRunning) {
      await stop(qmp);
      stopped = true;
    }
    progress?.phase('header');
    const writer = new StreamWriter(file.stream);
    const { uuid: _uuid, ...rest } = options.config ?? record.config;
    await writer.writeXlHeader({ ...rest, name: record.name, uuid: record.uuid });
    await writer.writeStreamHeader();
    await writer.writePhase(Phase.BOOTSTRAP);
    await writer.writeDomainInfo(info);
    await writer.writePhase(Phase.RAM);
    progress?.phase('ram', { memoryMiB: info.memoryMiB });
    const ram = await sendRam(qmp, {
      socketPath: store.paths(record.id).saveSocket,
      writer,
      maxBandwidth: options.maxBandwidth,
      signal: options.signal,
      onProgress: (p) =>
        progress?.update(() => ({
          bytes: p.bytes,
          ...(p.migration ? { remaining: p.migration.remaining } : {}),
        })),
    });
    await writer.end();
    progress?.phase('sync');
    const fileBytes = await file.commit();
    committed = true;
    let domainState: SaveResult['domainState'];
    if (options.after === 'destroy') {
      await qmp.close();
      await destroyDomain(store, record);
      domainState = 'destroyed';
    } else {
      if (options.after === 'running' && wasRunning) await resume(qmp);
      await store.update(record.id, (r) => ({
        ...withoutSaving(r),
        status: options.after === 'running' && wasRunning ? 'running' : 'paused',
      }));
      domainState = options.after === 'running' && wasRunning ? 'running' : 'paused';
    }
    const freedBy = file.replaced?.pid;
    return {
      fileBytes,
      ramBytes: ram.bytes,
      seconds: (performance.now() - started) / 1000,
      digest: ram.digest.toString('hex'),
      wasRunning,
      domainState,
      ...(freedBy === undefined ? {} : { replacedFreedBy: freedBy }),
    };
  } catch (err) {
    // commit() sets inPlace at its rename; `committed` says it also returned.
    if (file?.inPlace === true) {
      // FILE is complete: resuming the domain as well would leave two copies to run.
      const step = !committed
        ? 'making the rename durable'
        : options.after === 'destroy'
          ? 'destroying the domain'
          : 'setting the domain as asked';
      throw new XlError(
        'XL_SAVE',
        `${options.file} was written, but ${step} afterwards failed: ${err instanceof Error ? err.message : String(err)}; domain '${record.name}' is left stopped`,
        { cause: err, domain: record.name },
      );
    }
    await file?.discard();
    let resumed = '';
    let status = record.status;
    if (stopped) {
      try {
        await resume(qmp);
        resumed = `; domain '${record.name}' is running again`;
        status = 'running';
      } catch (e) {
        resumed = `; domain '${record.name}' could not be resumed (${e instanceof Error ? e.message : String(e)})`;
        status = 'paused';
      }
    }
    await store.update(record.id, (r) => ({ ...withoutSaving(r), status })).catch(() => undefined);
    const why =
      err instanceof XlError && err.code === 'XL_INTERRUPTED'
        ? 'interrupted'
        : (writeFailure(err, options.file) ?? (err instanceof Error ? err.message : String(err)));
    throw new XlError(
      err instanceof XlError && err.code === 'XL_INTERRUPTED' ? 'XL_INTERRUPTED' : 'XL_SAVE',
      `saving domain '${record.name}' failed: ${why}; ${options.file} was not written${resumed}`,
      { cause: err, domain: record.name },
    );
  } finally {
    await qmp.close();
  }
}
