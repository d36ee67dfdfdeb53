/**
 * The sender after the receiver said ready: GO (the point of no return), then the receiver's
 * report. Only a receiver that says it destroyed its copy lets the source resume; any other
 * failure leaves the source paused as NAME--migratedaway and says loudly where the domain is.
 */
import type { Writable } from 'node:stream';
import type { QmpClient } from '@xlkit/qmp';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { destroyDomain } from '../domain/destroy.js';
import { XlError } from '../errors.js';
import type { ByteChannel } from './byte-channel.js';
import { RECEIVER_GRACE_MS, SWITCHOVER_TIMEOUT_MS, within } from './deadline.js';
import { errorMessage, migratedAwayName } from './names.js';
import { GO, REPORT, ReportStatus } from './protocol.js';
import type { ReceiverProcess } from './receiver-process.js';
import type { MigrateResult } from './send-migration.js';
import { rollbackSource, type SourceBefore } from './source-rollback.js';
import type { Stages } from './stages.js';

/** What the switch-over works with: the source's QMP, the receiver and both directions of the pipe. */
export interface SwitchoverLink {
  qmp: QmpClient;
  receiver: ReceiverProcess;
  output: Writable;
  /** The back channel's bytes after its END (xl's ready, report). */
  rest: ByteChannel;
  before: SourceBefore;
}

function writeRaw(out: Writable, b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => out.write(b, (err) => (err ? reject(err) : resolve())));
}

export interface Done {
  name: string;
  host: string;
  ramBytes: number;
  chunks: number;
  downtimeMs: number | undefined;
  /** The vCPU stop (wall clock), when the receiver is to resume the guest. */
  pauseStartMs: number | undefined;
  stages: Stages;
}

/** GO and the report. Only a receiver that says it destroyed its copy lets the source resume. */
export async function afterGo(store: DomainStore, domain: DomainRecord, link: SwitchoverLink, d: Done): Promise<MigrateResult> {
  const { qmp, receiver, output, rest, before } = link;
  const away = migratedAwayName(domain.name);
  const undefinedState = (why: string) =>
    new XlError(
      'XL_MIGRATION',
      `MIGRATION FAILED AFTER THE POINT OF NO RETURN (${why}). The domain '${domain.name}' may be running on ${d.host}; ` +
        `its copy here is kept paused as '${away}' (id ${domain.id}) and will not be resumed. Check ${d.host} before destroying either copy.`,
      { domain: domain.name },
    );
  try {
    try {
      await writeRaw(output, GO);
    } catch (err) {
      throw undefinedState(`sending the go-ahead failed: ${errorMessage(err)}`);
    }
    const report = await within(rest.readUpTo(REPORT.length + 1), SWITCHOVER_TIMEOUT_MS, 'waiting for the receiver\'s report').catch((err: unknown) => {
      throw undefinedState(errorMessage(err));
    });
    if (report.length < REPORT.length + 1 || !report.subarray(0, REPORT.length).equals(REPORT)) {
      throw undefinedState(report.length === 0 ? 'the receiver closed the connection without reporting' : 'the receiver sent a malformed report');
    }
    const status = report[REPORT.length];
    if (status !== ReportStatus.RUNNING) {
      const echo = await rest.readUpTo(GO.length);
      if (!echo.equals(GO)) throw undefinedState(`the receiver reported failure (status ${String(status)}) without releasing the domain`);
      const kept = await rollbackSource(store, domain, qmp, before);
      throw new XlError(
        'XL_MIGRATION',
        `migration to ${d.host} failed at the switch-over: the receiver could not take the domain and destroyed its copy; ` +
          (kept.problem === undefined ? `the domain '${domain.name}' runs on this host again` : `the domain '${domain.name}' is back on this host but ${kept.problem}`),
        { domain: domain.name },
      );
    }
    const pausedMs = d.pauseStartMs === undefined ? undefined : Math.max(0, Math.round(Date.now() - d.pauseStartMs));
    // The domain runs on the destination: what follows is this host's own housekeeping.
    d.stages.start('cleanup');
    await qmp.close().catch(() => undefined);
    const current = (await store.get(domain.id)) ?? domain;
    await destroyDomain(store, current);
    d.stages.end();
    return {
      name: d.name, host: d.host, phases: d.stages.durations(), totalSeconds: d.stages.total(), ramBytes: d.ramBytes, chunks: d.chunks, downtimeMs: d.downtimeMs,
      ...(pausedMs === undefined ? {} : { pausedMs }),
    };
  } finally {
    await qmp.close().catch(() => undefined);
    await receiver.stop(RECEIVER_GRACE_MS);
  }
}
