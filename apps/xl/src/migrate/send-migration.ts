/**
 * The sending end (`xl migrate`): start the receiver, handshake, phase 1 (config and domain
 * info; the receiver starts QEMU), phase 3 (QEMU's stream as verified RAM chunks, with
 * pause-before-switchover), then xl's ready / go / report.
 *
 * Until GO is written, every failure (refusal, receiver gone, bad data, Ctrl-C) rolls the
 * source back exactly as it was and stops the receiver, which removes what it created.
 * After GO the source is never resumed unless the receiver says it destroyed its copy.
 */
import type { Writable } from 'node:stream';
import { finalMigrationFigures, migrateSetParameters, type QmpClient } from '@xlkit/qmp';
import type { DomainConfig } from '../config/domain-config.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { assertNotMigratedAway } from '../domain/guard.js';
import { connectQmp, leavePostmigrate } from '../domain/qmp.js';
import { XlError } from '../errors.js';
import type { ProgressReporter } from '../progress/reporter.js';
import { collectDomainInfo } from '../ram/domain-info.js';
import { sendRam } from '../ram/outgoing.js';
import { MIGRATION_CHUNK, MIGRATION_FLUSH_IDLE_MS, RamCredit } from '../ram/ram-credit.js';
import { MirrorSender, type MirrorFlags } from '../mirror/sender-side.js';
import { waitBackEnd, waitPhaseReady } from './back-channel.js';
import { ByteChannel } from './byte-channel.js';
import { CorruptRamChunk, parseFaults } from './fault.js';
import { dumpGuestRam } from './ram-dump.js';
import { senderHandshake, type SenderLink } from './handshake.js';
import { errorMessage, migratedAwayName } from './names.js';
import { Feature, READY, ramRequires } from './protocol.js';
import { receiverCommand } from './receiver-argv.js';
import { spawnReceiver, type ReceiverProcess } from './receiver-process.js';
import { rollbackSource, type SourceBefore } from './source-rollback.js';
import { Stages } from './stages.js';
import { RECEIVER_GRACE_MS } from './deadline.js';
import { settleWithin } from '../settle-within.js';
import { afterGo } from './sender-switchover.js';

export interface MigrateOptions {
  host: string;
  /** -s SSHCMD; undefined = ssh. */
  sshCommand?: string;
  /** -C: send this config instead of the domain's own. */
  config?: DomainConfig;
  /** Receiver flags: -p leave paused, -e, -d. */
  receiverFlags: string[];
  /** -p: the receiver leaves the guest paused (so no pause ends there). */
  paused: boolean;
  maxBandwidth?: number;
  maxDowntimeMs?: number;
  /** -q: mirror the local disks in phase 2 (apps/xl/src/mirror). */
  mirror?: MirrorFlags;
  progress: ProgressReporter;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** Ctrl-C: honoured until GO, ignored after. */
  signal: AbortSignal;
}

export interface MigrateResult {
  name: string;
  host: string;
  /** Seconds per phase: handshake, bootstrap, ram, switchover; and total. */
  phases: Record<string, number>;
  totalSeconds: number;
  ramBytes: number;
  chunks: number;
  /** As QEMU reports it (ms): from the vCPU stop until the source has sent everything. */
  downtimeMs: number | undefined;
  /** How long the guest was paused: the source's vCPU stop to the receiver's report that it runs (ms; absent with -p or a paused domain). */
  pausedMs?: number;
}

/** Rejects as soon as `signal` aborts, with its reason. */
function raced<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const on = () => reject(signal.reason as Error);
    signal.addEventListener('abort', on, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', on);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', on);
        reject(e as Error);
      },
    );
  });
}

export async function migrateDomain(store: DomainStore, domain: DomainRecord, o: MigrateOptions): Promise<MigrateResult> {
  assertNotMigratedAway(domain, 'migrate');
  const config: DomainConfig = { ...(o.config ?? domain.config), name: domain.name, uuid: domain.uuid };
  const stages = new Stages(o.progress);
  const faults = parseFaults(o.env);
  // Aborts on Ctrl-C (until GO) and on any failure found by a concurrent task.
  const failure = new AbortController();
  const onInterrupt = () => failure.abort(new XlError('XL_INTERRUPTED', 'interrupted'));
  o.signal.addEventListener('abort', onInterrupt, { once: true });
  if (o.signal.aborted) onInterrupt();

  let qmp: QmpClient | undefined;
  let receiver: ReceiverProcess | undefined;
  let link: SenderLink | undefined;
  let committed = false;
  let mirror: MirrorSender | undefined;
  let backDone: Promise<void> | undefined;
  const before: SourceBefore = { name: domain.name, status: domain.status, running: domain.status === 'running' };
  try {
    stages.start('handshake');
    qmp = await raced(connectQmp(store, domain), failure.signal);
    const runState = await leavePostmigrate(qmp);
    before.running = runState.running;
    if (!['running', 'paused'].includes(runState.status)) {
      throw new XlError('XL_MIGRATION', `domain '${domain.name}' is ${runState.status}; only a running or paused domain can migrate`);
    }
    const info = await collectDomainInfo(qmp, config.disks);
    if (o.mirror) {
      mirror = await MirrorSender.plan(config.disks, info.disks, o.mirror);
      for (const line of mirror.lines) o.stderr.write(`${line}\n`);
      stages.event('disk-plan', { plan: mirror.built.plan, skipped: mirror.built.skipped });
    }
    receiver = spawnReceiver(receiverCommand(o.sshCommand, o.host, o.receiverFlags), o.stderr, o.env);
    const output: Writable = faults.corruptRamChunk !== undefined ? corrupting(receiver.stdin, faults.corruptRamChunk) : receiver.stdin;
    link = await raced(senderHandshake({ input: receiver.stdout, output, config, requires: [...ramRequires(info), ...(mirror?.requires ?? [])] }), failure.signal);
    const { writer, back } = link;
    stages.event('negotiated', { version: link.agreement.version, features: link.agreement.features, receiver: link.peer.software });

    stages.start('bootstrap');
    await writer.writePhase(1);
    await writer.writeDomainInfo(info);
    if (mirror) await mirror.writePlan(link);
    await raced(waitPhaseReady(back, 1, mirror?.takeBackRecord), failure.signal);
    if (mirror?.exportsLine !== undefined) {
      o.stderr.write(`${mirror.exportsLine}\n`);
      stages.event('disk-exports', { exports: mirror.exports });
    }
    await store.update(domain.id, (r) => ({ ...r, status: 'migrating' }));

    if (mirror) {
      stages.start('mirror');
      const q = qmp;
      await raced(
        mirror.phaseTwo({
          link, qmp: q, tunnelSocket: store.paths(domain.id).nbdSocket, signal: failure.signal, faults,
          onProgress: (disks) => {
            const bytes = disks.reduce((n, d) => n + d.offset, 0);
            const total = disks.reduce((n, d) => n + d.len, 0);
            const note = disks.map((d) => `${d.id} ${d.len > 0 ? Math.floor((100 * d.offset) / d.len) : 0}%${d.ready ? ' ready' : ''}`).join(', ');
            o.progress.update({ bytes, total, note, fields: { disks } });
          },
        }),
        failure.signal,
      );
      const t = mirror.tunnelStats;
      if (t !== undefined) stages.event('tunnel', { ...t });
    }

    stages.start('ram');
    const credit = link.agreement.features.includes(Feature.RAM_CREDIT) ? new RamCredit(failure.signal) : undefined;
    backDone = waitBackEnd(back, credit && ((rec) => rec.name === 'RAM_CREDIT' && (credit.grant(rec.value.bytes), true)));
    backDone.catch((err: unknown) => failure.abort(err));
    await writer.writePhase(3);
    if (o.maxDowntimeMs !== undefined) await migrateSetParameters(qmp, { 'downtime-limit': o.maxDowntimeMs });
    let total: number | undefined;
    const ram = await raced(
      sendRam(qmp, {
        socketPath: store.paths(domain.id).migrationSocket,
        writer,
        maxBandwidth: o.maxBandwidth,
        signal: failure.signal,
        ...(credit ? { credit } : {}),
        chunkSize: MIGRATION_CHUNK,
        readAhead: MIGRATION_CHUNK,
        flushIdleMs: MIGRATION_FLUSH_IDLE_MS,
        onPreSwitchover: async () => {
          stages.event('pre-switchover');
          // Finish the mirrors while the vCPUs are stopped, before QEMU inactivates the disks.
          if (mirror && qmp) await mirror.atPreSwitchover(qmp);
        },
        onProgress: (p) => {
          const m = p.migration;
          if (m !== undefined && m.total > 0) total = m.total;
          o.progress.update(() => ({
            bytes: p.bytes,
            ...(total === undefined ? {} : { total }),
            ...(m === undefined ? {} : { remaining: m.remaining, note: `pass ${m.pass}, dirty ${m.dirtyPagesRate} pages/s`, fields: { pass: m.pass, dirtyPagesRate: m.dirtyPagesRate, status: m.status } }),
          }));
        },
      }),
      failure.signal,
    );
    if (mirror) await raced(mirror.afterRam(), failure.signal);
    await writer.end();
    // QEMU's downtime figure, settled while the receiver finishes (not before END: it may wait).
    const figures = finalMigrationFigures(qmp, ram.migration);
    if (faults.ramDumpDir !== undefined) await dumpGuestRam(qmp, faults.ramDumpDir, 'source');
    o.progress.update({ bytes: ram.bytes, ...(total === undefined ? {} : { total }), remaining: 0 }, true);

    stages.start('switchover');
    await raced(backDone, failure.signal);
    const rest = new ByteChannel(back.remainder(), 'receiver');
    await raced(rest.expect(READY, 'the ready message'), failure.signal);
    if (faults.senderStall === 'before-go') {
      stages.event('stalled-before-go');
      await raced(new Promise<never>(() => undefined), failure.signal);
    }
    await store.update(domain.id, (r) => ({ ...r, name: migratedAwayName(domain.name), status: 'migrated-away' }));
    // The last moment a Ctrl-C (or a failure found meanwhile) still rolls back.
    if (failure.signal.aborted) throw failure.signal.reason as Error;
    committed = true;
    o.signal.removeEventListener('abort', onInterrupt);
    return await afterGo(store, domain, { qmp, receiver, output, rest, before }, {
      name: domain.name, host: o.host, ramBytes: ram.bytes, chunks: ram.chunks, downtimeMs: (await figures).downtimeMs, stages,
      pauseStartMs: o.paused ? undefined : ram.stoppedAtMs,
    });
  } catch (err) {
    if (committed) throw err;
    o.progress.clear();
    // A broken pipe is a symptom; the receiver's own words (or its EOF) are the cause.
    if (!failure.signal.aborted && backDone !== undefined) await settleWithin(backDone, 2_000);
    const why: unknown = failure.signal.aborted ? failure.signal.reason : err;
    await abortToReceiver(link, stages.current, why);
    await mirror?.abort(qmp).catch(() => undefined);
    const kept = await rollbackSource(store, domain, qmp, before);
    await receiver?.stop(RECEIVER_GRACE_MS);
    const interrupted = why instanceof XlError && why.code === 'XL_INTERRUPTED';
    const where = kept.problem !== undefined
      ? `the domain '${domain.name}' is still on this host but ${kept.problem}`
      : `the domain '${domain.name}' still runs on this host${before.running ? '' : ' (paused, as before)'}`;
    throw new XlError(interrupted ? 'XL_INTERRUPTED' : 'XL_MIGRATION', `migration to ${o.host} failed in ${stages.current}: ${errorMessage(why)}; ${where}`, { cause: why, domain: domain.name });
  } finally {
    o.signal.removeEventListener('abort', onInterrupt);
    if (!committed) await qmp?.close().catch(() => undefined);
  }
}

function corrupting(to: Writable, chunk: number): Writable {
  const t = new CorruptRamChunk(chunk);
  t.pipe(to);
  return t;
}

/** Tells the receiver why we give up (best effort, bounded: the pipe may be full or gone). */
async function abortToReceiver(link: SenderLink | undefined, stage: string, why: unknown): Promise<void> {
  if (link === undefined) return;
  await settleWithin(link.writer.writeRecord('MIGRATION_ERROR', { stage, message: `the sender gave up: ${errorMessage(why)}` }), 1_000);
}
