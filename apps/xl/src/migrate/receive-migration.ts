/**
 * The receiving end (`xl migrate-receive`): handshake, phase 1 (check this host, start QEMU
 * `-incoming defer` paused as NAME--incoming), phase 3 (verified RAM into QEMU), then xl's
 * ready / go / report. Before GO every failure removes what was created here and is reported
 * to the sender as MIGRATION_ERROR; the incoming domain carries this process's pid so that,
 * should this process die, the next xl command on this host reaps it.
 */
import type { Writable } from 'node:stream';
import { cont, type QmpClient } from '@xlkit/qmp';
import { type ByteInput, type DomainInfo, type StreamRecord, type StreamWriter } from '@xlkit/stream';
import type { DomainConfig } from '../config/domain-config.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { destroyDomain } from '../domain/destroy.js';
import { connectQmp } from '../domain/qmp.js';
import { startDomain } from '../domain/start.js';
import { savedRamBytes } from '../qemu/guest-ram.js';
import { XlError } from '../errors.js';
import { assertHostCanRun } from '../domain/host-check.js';
import { availableMemoryMiB } from '../host/host-memory.js';
import { receiveRam } from '../ram/incoming.js';
import { RAM_CREDIT_WINDOW } from '../ram/ram-credit.js';
import { checkSavedConfig, SAVED_CONFIG_UNUSABLE } from '../ram/saved-config.js';
import { MirrorReceiver } from '../mirror/receiver-side.js';
import { ByteChannel } from './byte-channel.js';
import type { Faults } from './fault.js';
import { dumpGuestRam } from './ram-dump.js';
import { receiverHandshake, type ReceiverLink } from './handshake.js';
import { errorMessage, incomingName, nextExpected } from './names.js';
import { Feature, GO, OWN_FEATURES, READY, REPORT, ReportStatus, makeHello } from './protocol.js';
import { SWITCHOVER_TIMEOUT_MS, within } from './deadline.js';

export interface ReceiveOptions {
  input: ByteInput;
  output: Writable;
  /** Leave the domain paused after the switch-over (-p). */
  paused: boolean;
  /** Diagnostics (our stderr, which the sender forwards). */
  log: (line: string) => void;
  signal?: AbortSignal;
  faults?: Faults;
}

export interface ReceiveResult {
  record: DomainRecord;
  running: boolean;
}

function write(out: Writable, b: Buffer): Promise<void> {
  return new Promise((resolve, reject) => out.write(b, (err) => (err ? reject(err) : resolve())));
}

/** The sender's config from the xl header, as a usable domain config (untrusted JSON). */
function senderConfig(value: unknown): DomainConfig {
  try {
    return checkSavedConfig(value);
  } catch (err) {
    const why = errorMessage(err);
    throw new XlError('XL_MIGRATION', `the sender's domain config is not usable: ${why.startsWith(SAVED_CONFIG_UNUSABLE) ? why.slice(SAVED_CONFIG_UNUSABLE.length) : why}`);
  }
}

/** Phase 1: PHASE 1 then DOMAIN_INFO. */
async function readPhaseOne(link: ReceiverLink): Promise<DomainInfo> {
  const phase = await nextExpected(link.forward, 'sender', 'PHASE 1');
  if (phase.name !== 'PHASE' || phase.value.phase !== 1) throw unexpected(phase, 'PHASE 1');
  const info = await nextExpected(link.forward, 'sender', 'the domain info');
  if (info.name !== 'DOMAIN_INFO') throw unexpected(info, 'DOMAIN_INFO');
  return info.value;
}

function unexpected(rec: StreamRecord, expected: string): XlError {
  if (rec.name === 'MIGRATION_ERROR') return new XlError('XL_MIGRATION', `the sender gave up: ${rec.value.message}`);
  return new XlError('XL_MIGRATION', `the sender sent ${rec.name} at byte ${rec.offset} where ${expected} belongs`);
}

/** A domain named NAME may exist here only if it is the source itself (same host, same uuid). */
async function checkName(store: DomainStore, config: DomainConfig): Promise<void> {
  for (const d of await store.list()) {
    if (d.name === config.name && d.uuid !== config.uuid) {
      throw new XlError('XL_DOMAIN_EXISTS', `a different domain named '${config.name}' already runs on this host (id ${d.id})`);
    }
  }
}

async function reportError(writer: StreamWriter | undefined, stage: string, err: unknown): Promise<void> {
  if (writer === undefined) return;
  const code = (err as { code?: unknown }).code;
  try {
    await writer.writeRecord('MIGRATION_ERROR', { stage, message: errorMessage(err), ...(typeof code === 'string' ? { code } : {}) });
    await writer.writeRecord('END', null);
  } catch {
    // The sender is gone or the back channel is already closed.
  }
}

export async function receiveMigration(store: DomainStore, o: ReceiveOptions): Promise<ReceiveResult> {
  let link: ReceiverLink | undefined;
  let record: DomainRecord | undefined;
  let qmp: QmpClient | undefined;
  let stage = 'handshake';
  let writer: StreamWriter | undefined;
  let mirror: MirrorReceiver | undefined;
  const check = () => {
    if (o.signal?.aborted) throw new XlError('XL_INTERRUPTED', 'migrate-receive was interrupted');
  };
  // Test-only: hold still at a known point until interrupted (or killed).
  const stallFor = async (at: 'phase1' | 'targets') => {
    if (o.faults?.receiverStall === at) await new Promise((resolve) => o.signal?.addEventListener('abort', resolve, { once: true }));
  };
  try {
    const lacks = o.faults?.receiverLacks;
    link = await receiverHandshake({ input: o.input, output: o.output, ...(lacks ? { hello: makeHello([], OWN_FEATURES.filter((f) => f !== lacks)) } : {}) });
    writer = link.writer;
    check();
    const config = senderConfig(link.config);
    stage = 'phase 1';
    const info = await readPhaseOne(link);
    await checkName(store, config);
    const hostMiB = availableMemoryMiB();
    if (config.memory > hostMiB) throw new XlError('XL_MIGRATION', `domain '${config.name}' needs ${config.memory} MiB of memory, this host has ${hostMiB} MiB available`);
    // -q (phase 2): the disk plan; refusals first, targets created only after the host check.
    if (link.peer.requires.includes(Feature.DISK_MIRROR)) mirror = await MirrorReceiver.prepare(link.forward, config);
    const checked = mirror?.withoutMirrored(info, config) ?? { info, config };
    await assertHostCanRun(checked.info, checked.config, 'receive', store.cacheDir);
    check();
    // The targets are recorded with the domain before they exist, so a receiver killed at any
    // point from here on leaves a record the next xl reaps along with them.
    const m = mirror;
    record = await startDomain(store, m?.config ?? config, {
      paused: true, incoming: 'defer', name: incomingName(config.name), ramBytes: savedRamBytes(info),
      ...(m ? { createdDisks: m.planned, prepare: () => m.createTargets().then(() => stallFor('targets')) } : {}),
    });
    o.log(`receiving domain '${config.name}' as '${record.name}' (id ${record.id})`);
    await stallFor('phase1');
    check();
    if (mirror) await mirror.exportDisks(store, record, link, process.env);
    await link.writer.writeRecord('PHASE_READY', { phase: 1 });

    if (mirror) {
      stage = 'phase 2';
      await mirror.phaseTwo(link.forward, link.writer);
    }

    stage = 'phase 3';
    const phase3 = await nextExpected(link.forward, 'sender', 'PHASE 3');
    if (phase3.name !== 'PHASE' || phase3.value.phase !== 3) throw unexpected(phase3, 'PHASE 3');
    qmp = await connectQmp(store, record);
    const back = link.writer;
    const ram = await receiveRam(qmp, {
      socketPath: store.paths(record.id).migrationSocket,
      reader: link.forward,
      signal: o.signal,
      // A failed grant means a broken back channel, which the sender sees on its own.
      ...(link.agreement.features.includes(Feature.RAM_CREDIT)
        ? { credit: { window: RAM_CREDIT_WINDOW, grant: (bytes: number) => void back.writeRecord('RAM_CREDIT', { bytes }).catch(() => undefined) } }
        : {}),
      capabilities: [{ capability: 'late-block-activate', state: true }],
      onRecord: (rec) => {
        throw unexpected(rec, 'RAM_CHUNK');
      },
    });
    const end = await nextExpected(link.forward, 'sender', 'END');
    if (end.name !== 'END') throw unexpected(end, 'END');
    // The guest must not run while the NBD server could still take writes.
    await mirror?.finish(qmp);
    o.log(`received ${ram.bytes} bytes of RAM stream in ${ram.chunks} chunks, digest ${ram.digest.toString('hex').slice(0, 16)}... verified; QEMU ${ram.migration.status}`);

    stage = 'switch-over';
    await link.writer.writeRecord('END', null);
    await link.writer.flush();
    await write(o.output, READY);
    const rest = new ByteChannel(link.forward.remainder(), 'sender');
    await within(rest.expect(GO, 'the go-ahead'), SWITCHOVER_TIMEOUT_MS, 'waiting for the go-ahead');
  } catch (err) {
    await reportError(writer, stage, err);
    await qmp?.close().catch(() => undefined);
    if (record !== undefined) {
      const half = record;
      await destroyDomain(store, half).catch(async () => store.remove(half.id).catch(() => undefined));
    }
    await mirror?.abort();
    throw err instanceof XlError && err.code !== 'XL_MIGRATION_HANDSHAKE'
      ? new XlError(err.code, `migration not received (${stage}): ${err.message}`, { cause: err })
      : err;
  }
  return afterGo(store, record, qmp, link, mirror, o);
}

/** After GO: rename to NAME, resume unless -p, report. A failure here destroys our copy and clears the sender to resume (xl's rule). */
async function afterGo(
  store: DomainStore, record: DomainRecord, qmp: QmpClient, link: ReceiverLink, mirror: MirrorReceiver | undefined, o: ReceiveOptions,
): Promise<ReceiveResult> {
  const name = link.config !== null && typeof link.config === 'object' ? String((link.config as { name: unknown }).name) : record.name;
  try {
    if (o.faults?.ramDumpDir !== undefined) await dumpGuestRam(qmp, o.faults.ramDumpDir, 'destination');
    record = await store.update(record.id, (r) => {
      const { ownerPid: _owner, createdDisks: _disks, ...rest } = r;
      return { ...rest, name, status: 'paused' };
    });
    if (!o.paused) {
      await cont(qmp);
      record = await store.update(record.id, (r) => ({ ...r, status: 'running' }));
    }
  } catch (err) {
    o.log(`cannot take over the domain: ${errorMessage(err)}; destroying this copy and clearing the sender to resume its own`);
    await qmp.close().catch(() => undefined);
    await destroyDomain(store, record).catch(() => undefined);
    // The sender resumes its own copy on its own disks: the targets made here go too.
    await mirror?.abort();
    await write(o.output, Buffer.concat([REPORT, Buffer.from([ReportStatus.FAILED]), GO])).catch(() => undefined);
    throw new XlError('XL_MIGRATION', `migration failed at the switch-over: ${errorMessage(err)}`, { cause: err });
  }
  // The targets are this domain's disks now: no later failure may remove them.
  mirror?.commit();
  await qmp.close().catch(() => undefined);
  await write(o.output, Buffer.concat([REPORT, Buffer.from([ReportStatus.RUNNING])])).catch(() => undefined);
  return { record, running: !o.paused };
}
