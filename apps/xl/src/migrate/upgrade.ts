/**
 * `xl upgrade`: a running domain moves to another QEMU binary on this host, driven as a
 * same-host migration through the ordinary phase machine. The sender (send-migration.ts) and
 * the receiver (receive-migration.ts) both run in this process, joined by two in-memory pipes
 * instead of ssh; the destination is started with the new binary, the machine type the
 * domain already runs on, and (memory_backing = "shared") the source's RAM file mapped as it
 * is; the RAM goes QEMU to QEMU over a unix socket in the new domain's dir, with
 * `x-ignore-shared` on both sides so a shared RAM block is not sent at all.
 *
 * Failure semantics (link/PROTOCOL.md, "xl upgrade"): before the new QEMU's vCPUs ran, every
 * failure is the migration's own before-GO rollback: the source resumes exactly as it was.
 * Once they ran on shared RAM, the source's pages are no longer its guest's: it is never
 * resumed, and the domain is treated as crashed (upgrade-crash.ts).
 */
import { PassThrough } from 'node:stream';
import type { QmpClient } from '@xlkit/qmp';
import { checkDomainInfo, type DomainInfo } from '@xlkit/stream';
import type { DomainConfig } from '../config/domain-config.js';
import { assertNotMigratedAway } from '../domain/guard.js';
import { isQemuAlive } from '../domain/liveness.js';
import { queryRunState, withQmp } from '../domain/qmp.js';
import { errorMessage, XlError } from '../errors.js';
import { RECEIVER_GRACE_MS } from '../link/deadline.js';
import { assertBinarySupports } from '../qemu/binary-support.js';
import { collectDomainInfo, machineName } from '../ram/domain-info.js';
import { checkSavedConfig } from '../ram/saved-config.js';
import { settleWithin } from '../settle-within.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { qemuDestination, type DestinationPort } from './destination-port.js';
import { startsEarly } from './early-destination.js';
import type { ReceiveResult } from './receiver-completion.js';
import { runReceiver } from './receive-migration.js';
import type { ReceiverSession } from './receiver-session.js';
import { migrateDomain, type MigrateResult, type SenderInstruments } from './send-migration.js';
import type { SenderSettings } from './sender-session.js';
import { crashAfterRun } from './upgrade-crash.js';

export interface UpgradeOptions extends Pick<SenderSettings, 'progress' | 'stderr' | 'signal'> {
  /** The new QEMU binary (absolute). */
  binary: string;
  /** What the domain's config names as its device model afterwards (undefined: the system's QEMU). */
  deviceModel: string | undefined;
  env: NodeJS.ProcessEnv;
  /** Receiver diagnostics (xl upgrade -v). */
  log?: (line: string) => void;
  /** Test-only decorations (src/testing): of the source, as for migrate, and of the destination. */
  instruments?: SenderInstruments;
  destination?: (port: DestinationPort) => DestinationPort;
}

export interface UpgradeResult extends MigrateResult {
  id: number;
  sharedRam: boolean;
  qemu: { pid: number; binary: string; version: string };
  /**
   * The switch-over step by step, in ms after the old QEMU stopped the vCPUs (absent for a
   * paused domain): it had sent everything, the new one had loaded it, GO, the new one runs.
   */
  steps?: SwitchSteps;
}

export interface SwitchSteps {
  sent?: number;
  loaded?: number;
  go?: number;
  resumed?: number;
}

/** Wall-clock marks as ms after the vCPU stop (only those there are). */
function switchSteps(
  stoppedAtMs: number | undefined,
  marks: Record<keyof SwitchSteps, number | undefined>,
): SwitchSteps | undefined {
  if (stoppedAtMs === undefined) return undefined;
  const steps: SwitchSteps = {};
  for (const [k, at] of Object.entries(marks) as [keyof SwitchSteps, number | undefined][])
    if (at !== undefined) steps[k] = Math.max(0, Math.round(at - stoppedAtMs));
  return steps;
}

/** Statuses a domain can be upgraded from. */
const UPGRADABLE = new Set(['running', 'paused']);

/** The machine type the domain runs on, as QEMU names it (`pc-i440fx-7.2`). */
async function currentMachine(store: DomainStore, domain: DomainRecord): Promise<string> {
  return withQmp(store, domain, async (q: QmpClient) =>
    machineName(await q.execute('qom-get', { path: '/machine', property: 'type' })),
  );
}

/** Refusals that need no second QEMU: the domain's state, the new binary's abilities. */
async function precheck(
  store: DomainStore,
  domain: DomainRecord,
  binary: string,
): Promise<{ machine: string; version: string | undefined }> {
  assertNotMigratedAway(domain, 'upgrade');
  if (!UPGRADABLE.has(domain.status)) {
    throw new XlError(
      'XL_UPGRADE_REFUSED',
      `domain '${domain.name}' is ${domain.status}; only a running or paused domain can be upgraded`,
      { domain: domain.name },
    );
  }
  // The new QEMU gets taps of its own on the same bridges (vif<new id>.N, made as for any
  // start; the old QEMU's go with it once the new one runs). A vif whose tap has a fixed
  // name cannot have a second one beside it.
  const named = domain.config.vifs.find((v) => v.type === 'tap' && v.vifname !== undefined);
  if (named !== undefined) {
    throw new XlError(
      'XL_UPGRADE_REFUSED',
      `domain '${domain.name}' has a bridged vif with the fixed tap name '${named.vifname}'; the new QEMU needs a tap of its own beside the old one's: drop vifname to upgrade it`,
      { domain: domain.name },
    );
  }
  const machine = await currentMachine(store, domain);
  const { version: v } = await assertBinarySupports(binary, machine, domain.config, store.cacheDir);
  return { machine, version: v ? `${v.major}.${v.minor}.${v.micro}` : undefined };
}

/** The config the new QEMU starts from: the domain's, minus the device model (the receiver is told the binary). */
function sentConfig(domain: DomainRecord): DomainConfig {
  const { deviceModel: _old, ...config } = domain.config;
  return { ...config, name: domain.name, uuid: domain.uuid };
}

/** The config and domain info as the receiver reads them from the pipe: JSON, then checked. */
function asReceived(config: DomainConfig, info: DomainInfo): [DomainConfig, DomainInfo] {
  const through = <T>(v: T): unknown => JSON.parse(JSON.stringify(v));
  return [checkSavedConfig(through(config)), checkDomainInfo(through(info))];
}

export async function upgradeDomain(
  store: DomainStore,
  domain: DomainRecord,
  o: UpgradeOptions,
): Promise<UpgradeResult> {
  const { machine, version } = await precheck(store, domain, o.binary);
  const shared = domain.config.memoryBacking === 'shared' && domain.ramFile !== undefined;
  const ignoreShared = shared ? [{ capability: 'x-ignore-shared' as const, state: true }] : [];
  const realDest = qemuDestination(store, {
    binary: o.binary,
    deviceModel: o.deviceModel,
    machine,
    ...(shared && domain.ramFile ? { sharedRamFile: domain.ramFile.path } : {}),
    capabilities: ignoreShared,
    // The binary was checked against this config before anything started (precheck).
    hostCheck: async (info) => {
      if (info.machine !== machine) {
        throw new XlError(
          'XL_MIGRATION',
          `the domain's machine type changed from ${machine} to ${info.machine} while it was checked`,
        );
      }
    },
  });
  // The new QEMU starts, and listens, before the sender opens the source (early-destination.ts).
  const direct = { sameHost: true, host: '127.0.0.1' };
  const dest = startsEarly(o.destination ? o.destination(realDest) : realDest, {
    ...direct,
    postcopy: false,
  });
  const config = sentConfig(domain);
  const toReceiver = new PassThrough();
  const toSender = new PassThrough();
  const receiver: ReceiverSession = {
    settings: {
      input: toReceiver,
      output: toSender,
      // A paused domain stays paused on the new QEMU.
      paused: domain.status === 'paused',
      log: o.log ?? (() => undefined),
      signal: o.signal,
      direct,
    },
    dest,
    join: [],
    participants: [],
    goReceived: false,
    postcopy: false,
    taken: false,
  };
  let receiving: Promise<ReceiveResult> | undefined;
  const host = `QEMU ${version ?? o.binary}`;
  let result: MigrateResult;
  // From here the upgrade is timed (its summary's phases and total): the domain info the new
  // QEMU starts from, and that start, are its first phase, `prepare`.
  const startedAt = performance.now();
  o.progress.phase('prepare');
  try {
    const info = await withQmp(store, domain, (q) => collectDomainInfo(q, domain.config.disks));
    dest.begin(...asReceived(config, info));
    // Everything up to the stream runs while the new QEMU starts: its spawn goes first.
    await dest.spawned;
    result = await migrateDomain(store, domain, {
      before: { phase: 'prepare', startedAt },
      host,
      upgrade: { to: host, from: `QEMU ${domain.qemu?.version ?? '?'}` },
      receiverFlags: [],
      paused: domain.status === 'paused',
      ramTransport: 'direct',
      progress: o.progress,
      stderr: o.stderr,
      signal: o.signal,
      env: o.env,
      config,
      ...(o.instruments ? { instruments: o.instruments } : {}),
      local: {
        connect: () => {
          receiving = runReceiver(receiver);
          receiving.catch(() => undefined);
          return {
            input: toSender,
            output: toReceiver,
            async stop() {
              toReceiver.end();
              if (receiving) await settleWithin(receiving, RECEIVER_GRACE_MS);
              toSender.end();
            },
          };
        },
        source: { capabilities: ignoreShared, handsOverRamFile: shared, info },
      },
    });
  } catch (err) {
    if (dest.ranOnSharedRam?.() === true) throw await crashAfterRun(store, domain, dest.record, err);
    // The sender failed before it started the receiver (whose completion would have removed
    // the new QEMU): removed here.
    if (receiving === undefined) await dest.destroy({ always: true });
    throw err;
  }
  const now = dest.record === undefined ? undefined : await store.get(dest.record.id);
  const problem = await runsNow(store, now, receiver.settings.paused);
  if (problem !== undefined) {
    const why = new XlError('XL_QEMU_FAILED', problem);
    if (shared) throw await crashAfterRun(store, domain, now, why);
    throw new XlError('XL_MIGRATION', `the new QEMU took the domain over but ${problem}`, { cause: why });
  }
  const q = now!.qemu!;
  const steps = switchSteps(result.stoppedAtMs, {
    sent: result.marks.sent,
    loaded: dest.marks?.completed,
    go: result.marks.go,
    resumed: dest.marks?.resumed,
  });
  return {
    ...result,
    // The guest's pause as it was: until the new QEMU's `cont` returned, not until the report.
    ...(steps?.resumed === undefined ? {} : { pausedMs: steps.resumed, steps }),
    id: now!.id,
    sharedRam: shared,
    qemu: { pid: q.pid, binary: q.binary, version: q.version ?? '?' },
  };
}

/** Undefined when the new QEMU is alive and in the run state it should be; else what is wrong. */
async function runsNow(
  store: DomainStore,
  record: DomainRecord | undefined,
  paused: boolean,
): Promise<string | undefined> {
  if (record?.qemu === undefined) return 'its record is gone';
  if (!isQemuAlive(record)) return `its QEMU (pid ${record.qemu.pid}) has exited`;
  try {
    const state = await withQmp(store, record, queryRunState);
    if (state.running === !paused) return undefined;
    return `its QEMU is ${state.status}`;
  } catch (err) {
    return `its QEMU does not answer: ${errorMessage(err)}`;
  }
}
