/**
 * xl restore: verify the file's headers and domain info, check this host can run it, start
 * QEMU with -incoming defer (paused), feed the verified RAM stream, check END, then cont
 * unless paused. Any failure kills the half-started QEMU and removes its state; FILE is only
 * ever read.
 */
import { cont } from '@xlkit/qmp';
import { StreamError, StreamReader, type DomainInfo, type RecordOf } from '@xlkit/stream';
import type { DomainConfig } from '../config/domain-config.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { destroyDomain } from '../domain/destroy.js';
import { connectQmp } from '../domain/qmp.js';
import { startDomain } from '../domain/start.js';
import { savedRamBytes } from '../qemu/guest-ram.js';
import { XlError } from '../errors.js';
import type { ProgressReporter } from '../progress/reporter.js';
import { assertHostCanRun } from '../domain/host-check.js';
import { announceGuest } from '../domain/vif-taps.js';
import { knownAccel } from '../domain/accel.js';
import { receiveRam } from './incoming.js';
import { checkSavedConfig } from './saved-config.js';
import { openInput } from './open-input.js';

export interface RestoreOptions {
  file: string;
  /** Replaces the config stored in the file (xl restore's CONFIG argument). */
  config?: DomainConfig;
  paused: boolean;
  signal?: AbortSignal;
  progress?: ProgressReporter;
}

export interface RestoreResult {
  record: DomainRecord;
  fileBytes: number;
  ramBytes: number;
  seconds: number;
  digest: string;
  /** Things that went wrong after the guest was back (e.g. announcing it on its bridges). */
  warnings: string[];
}

/** Reads up to the first RAM_CHUNK: PHASE 1, DOMAIN_INFO, PHASE 3 (unknown optional records are skipped by the reader). */
async function readPreamble(
  reader: StreamReader,
): Promise<{ info: DomainInfo; first: RecordOf<'RAM_CHUNK'> }> {
  let info: DomainInfo | undefined;
  for (;;) {
    const rec = await reader.next();
    if (rec === null || rec.name === 'END') {
      throw new XlError('XL_RESTORE', `the stream has no RAM (ends at byte ${rec?.offset ?? reader.offset})`);
    }
    if (rec.name === 'DOMAIN_INFO') info = rec.value;
    else if (rec.name === 'RAM_CHUNK') {
      if (info === undefined)
        throw new XlError('XL_RESTORE', `RAM before any domain info at byte ${rec.offset}`);
      return { info, first: rec };
    } else if (rec.name !== 'PHASE') {
      throw new XlError(
        'XL_RESTORE',
        `unexpected ${rec.name} record at byte ${rec.offset} (a save file holds domain info and RAM only)`,
      );
    }
  }
}

export async function restoreDomain(store: DomainStore, options: RestoreOptions): Promise<RestoreResult> {
  const started = performance.now();
  const { progress, signal } = options;
  const opened = await openInput(options.file, signal).catch((err: unknown) => {
    if (!(err instanceof XlError) || err.code !== 'XL_INTERRUPTED') throw err;
    throw new XlError('XL_INTERRUPTED', `cannot restore from ${options.file}: interrupted`, { cause: err });
  });
  // Every wait on the file (headers, a FIFO's writer going quiet) ends on an interrupt.
  const onAbort = () => opened.stream.destroy(new XlError('XL_INTERRUPTED', 'interrupted'));
  signal?.addEventListener('abort', onAbort, { once: true });
  let record: DomainRecord | undefined;
  try {
    const fileBytes = opened.size;
    const input = opened.stream;
    const reader = new StreamReader(input, { xlHeader: 'required' });
    progress?.phase('verify-headers');
    const { xlHeader } = await reader.headers().catch((err: unknown) => {
      if (err instanceof StreamError && err.code === 'STREAM_BAD_MAGIC' && err.offset === 0)
        throw new XlError('XL_RESTORE', `cannot restore from ${options.file}: not an xl save file`, {
          cause: err,
        });
      throw err;
    });
    const config = options.config ?? checkSavedConfig(xlHeader?.config);
    const { info, first } = await readPreamble(reader);
    await assertHostCanRun(info, config, 'restore', store.cacheDir);
    if (signal?.aborted) throw new XlError('XL_INTERRUPTED', 'interrupted');
    progress?.phase('start-qemu');
    record = await startDomain(store, config, {
      paused: true,
      incoming: 'defer',
      ramBytes: savedRamBytes(info),
      // The host check accepted the saved domain's accelerator for this host.
      accel: knownAccel(info.accel),
    });
    progress?.phase('ram', { total: fileBytes });
    const qmp = await connectQmp(store, record);
    try {
      const ram = await receiveRam(qmp, {
        socketPath: store.paths(record.id).migrationSocket,
        reader,
        first,
        signal,
        onProgress: (p) => progress?.update({ bytes: p.offset, total: fileBytes }),
      });
      const end = await reader.next();
      if (end === null || end.name !== 'END') {
        throw new XlError(
          'XL_RESTORE',
          `expected END after the RAM stream at byte ${end?.offset ?? reader.offset}, found ${end?.name ?? 'nothing'}`,
        );
      }
      if ((await reader.next()) !== null) throw new XlError('XL_RESTORE', 'records after END');
      if (!options.paused) await cont(qmp);
      const announced = await announceGuest(qmp, record.config);
      const id = record.id;
      record = await store.update(id, (r) => ({ ...r, status: options.paused ? 'paused' : 'running' }));
      return {
        record,
        fileBytes,
        ramBytes: ram.bytes,
        seconds: (performance.now() - started) / 1000,
        digest: ram.digest.toString('hex'),
        warnings: announced === undefined ? [] : [announced],
      };
    } finally {
      await qmp.close();
    }
  } catch (err) {
    if (record !== undefined) {
      const half = record;
      await destroyDomain(store, half).catch(async () => store.remove(half.id).catch(() => undefined));
    }
    const aborted = signal?.aborted === true;
    if (err instanceof XlError && err.code === 'XL_RESTORE' && !aborted) throw err;
    const why =
      aborted || (err instanceof XlError && err.code === 'XL_INTERRUPTED')
        ? 'interrupted'
        : err instanceof Error
          ? err.message
          : String(err);
    throw new XlError(
      aborted || (err instanceof XlError && err.code === 'XL_INTERRUPTED') ? 'XL_INTERRUPTED' : 'XL_RESTORE',
      `cannot restore from ${options.file}: ${why}`,
      { cause: err },
    );
  } finally {
    signal?.removeEventListener('abort', onAbort);
    await opened.close();
  }
}
