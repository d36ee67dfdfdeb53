/**
 * Starts a domain: allocate its id and directory, run QEMU detached (-daemonize: it outlives
 * xl), record pid and QEMU version. Any failure stops the QEMU and removes the state.
 */
import { randomUUID } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { QmpClient } from '@xlkit/qmp';
import { DEFAULT_QEMU, type DomainConfig } from '../config/domain-config.js';
import { XlError } from '../errors.js';
import { readProcStat } from '../host/process-info.js';
import { identifyFile, type FileIdentity } from '../host/file-identity.js';
import { createPrivateFile, makeSocketsPrivate } from '../host/private-files.js';
import type { DomainRecord, DomainStatus } from '../store/domain-record.js';
import type { DomainPaths } from '../store/domain-paths.js';
import { startDomainLogs } from '../store/domain-logs.js';
import type { DomainStore } from '../store/domain-store.js';
import { newRamFilePath } from '../store/ram-file.js';
import { buildQemuArgv } from '../qemu/argv.js';
import { cachedQemuCapabilities, qemuCapabilities } from '../qemu/capabilities.js';
import { resolveDiskCache } from '../qemu/disk-cache.js';
import { guestRamBytes } from '../qemu/guest-ram.js';
import { qemuEnv } from '../qemu/env.js';
import { ACCEL_NOT_PROBED } from '../qemu/argv.js';
import { chooseAccel, type Accelerator } from './accel.js';
import { connectQmp } from './qmp.js';
import { lastQemuLogLine } from './liveness.js';
import { runDaemonizing } from './run-daemonizing.js';
import { setUpTaps } from './vif-taps.js';

export interface StartOptions {
  /** vCPUs stay stopped (-S) until unpause / cont. */
  paused?: boolean;
  /** Wait for a migration stream (-incoming defer); status 'incoming'. */
  incoming?: 'defer';
  /** Create under another name than config.name (e.g. "NAME--incoming"). */
  name?: string;
  /** QEMU start timeout (default 60 s). */
  timeoutMs?: number;
  /** Disk images made for this domain (migrate-receive -q), recorded from the first write on. */
  createdDisks?: string[];
  /** Runs once the record exists and before QEMU starts (e.g. creating those disk images). */
  prepare?: () => Promise<void>;
  /**
   * Exact guest RAM in bytes: what the source had, for restore and migrate-receive (both ends
   * must agree). Default for a new domain: decided by guest-ram.ts for this QEMU.
   */
  ramBytes?: number;
  /** The QEMU binary (default: the config's device model, else the system's). */
  binary?: string;
  /** A concrete machine type to start (qemu/argv.ts); default `pc`. */
  machine?: string;
  /**
   * memory_backing = "shared": map this existing RAM file, owned by another domain (an
   * upgrade's source), instead of a new one this domain owns.
   */
  borrowRamFile?: string;
  /** The accelerator (decided by the caller); default: chosen here for the config (domain/accel.ts). */
  accel?: Accelerator;
  /** Called once QEMU's process was spawned (it is starting), or not at all. */
  onSpawn?: () => void;
  /** An incoming domain's owner when it is not `xl migrate-receive` (DomainRecord.receivedBy). */
  receivedBy?: 'upgrade';
  /**
   * Takes the QMP connection the start reads QEMU's version over, once the domain is recorded,
   * instead of its being closed (an incoming domain's receiver goes on with it).
   */
  keepQmp?: (qmp: QmpClient) => void;
}

/**
 * A new domain's RAM: its MiB, plus the RAM tail where this QEMU under TCG needs it;
 * `unprobed` when that needed QEMU's version and none was known (nothing run, or it failed).
 */
async function newGuestRamBytes(
  config: DomainConfig,
  accel: 'tcg' | 'kvm',
  binary: string,
  o: { cacheDir: string; spawn: boolean },
): Promise<{ bytes: number; unprobed: boolean }> {
  if (accel !== 'tcg') return { bytes: guestRamBytes(config.memory, accel, undefined), unprobed: false };
  // A QEMU that cannot be probed gets the tail (the safe side); starting it reports why it fails.
  const caps = o.spawn
    ? await qemuCapabilities(binary, o.cacheDir).catch(() => undefined)
    : await cachedQemuCapabilities(binary, o.cacheDir);
  return { bytes: guestRamBytes(config.memory, accel, caps?.version), unprobed: caps?.version === undefined };
}

export interface QemuCommandOptions extends Pick<
  StartOptions,
  'paused' | 'incoming' | 'ramBytes' | 'binary' | 'machine'
> {
  /** memory_backing = "shared": the RAM file's path. */
  ramFile?: string;
  /** Where this host's QEMU capabilities are cached. */
  cacheDir: string;
  /** The domain's id (names its taps); 0 for a dry run. */
  domid?: number;
  /** ACCEL_NOT_PROBED: a dry run of `auto` with no cached verdict (shown as such, sized as KVM). */
  accel: Accelerator | typeof ACCEL_NOT_PROBED;
  /**
   * False in a dry run: QEMU's capabilities come only from the cache, the binary is never run
   * (without them a TCG guest is sized with the RAM tail, as for a QEMU that cannot be probed).
   */
  spawn?: boolean;
}

/**
 * The QEMU binary and argv that start `config` on this host: the RAM size and the disks'
 * cache modes are decided here (the images must exist by now), the rest comes from the config.
 */
export async function qemuCommand(
  config: DomainConfig,
  paths: DomainPaths,
  o: QemuCommandOptions,
): Promise<{ binary: string; argv: string[]; ramUnprobed: boolean }> {
  const binary = o.binary ?? config.deviceModel ?? DEFAULT_QEMU;
  const accel = o.accel;
  const ram =
    o.ramBytes !== undefined
      ? { bytes: o.ramBytes, unprobed: false }
      : await newGuestRamBytes(config, accel === ACCEL_NOT_PROBED ? 'kvm' : accel, binary, {
          cacheDir: o.cacheDir,
          spawn: o.spawn !== false,
        });
  const disks = await resolveDiskCache(config.disks);
  const blockDevices = new Set<string>();
  for (const d of disks) {
    const st = d.target === undefined ? undefined : await stat(d.target).catch(() => undefined);
    if (st?.isBlockDevice() === true) blockDevices.add(d.target as string);
  }
  return {
    binary,
    ramUnprobed: ram.unprobed,
    argv: buildQemuArgv({ ...config, disks }, paths, {
      paused: o.paused,
      incoming: o.incoming,
      accel,
      ramBytes: ram.bytes,
      domid: o.domid,
      ...(o.machine === undefined ? {} : { machine: o.machine }),
      ...(o.ramFile === undefined ? {} : { ramFile: o.ramFile }),
      blockDevices,
    }),
  };
}

async function readPid(file: string): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const pid = Number(text.trim());
    if (Number.isSafeInteger(pid) && pid > 0) return pid;
    await sleep(20);
  }
  throw new XlError('XL_QEMU_FAILED', `QEMU wrote no usable pid file at ${file}`);
}

function killQuietly(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

export async function startDomain(
  store: DomainStore,
  config: DomainConfig,
  options: StartOptions = {},
): Promise<DomainRecord> {
  const name = options.name ?? config.name;
  const uuid = config.uuid ?? randomUUID();
  const record = await store.allocate({
    name,
    uuid,
    config: { ...config, name, uuid },
    ...(options.createdDisks ? { createdDisks: options.createdDisks } : {}),
    ...(options.receivedBy ? { receivedBy: options.receivedBy } : {}),
    // Recorded before QEMU creates it, so that any removal of the record removes it too.
    ...(config.memoryBacking === 'shared'
      ? {
          ramFile:
            options.borrowRamFile === undefined
              ? { path: newRamFilePath(), owner: true }
              : { path: options.borrowRamFile, owner: false },
        }
      : {}),
  });
  const paths = store.paths(record.id);
  const binary = options.binary ?? record.config.deviceModel ?? DEFAULT_QEMU;
  let pid: number | undefined;
  let qmp: QmpClient | undefined;
  try {
    // Logs under the domain's own name (not NAME--incoming): they outlive this domain. While
    // another domain of this name lives here (the source of an upgrade or of a migration to
    // this same state dir), its logs are left alone: this one logs under the name it starts as.
    const sibling = (await store.list()).some(
      (r) => r.id !== record.id && (r.name === config.name || r.config.name === config.name),
    );
    await startDomainLogs(store.logDir, sibling ? name : config.name, paths);
    // The guest's RAM, in /dev/shm: made 0600 here, or QEMU would make it 0640.
    if (record.ramFile?.owner === true) await createPrivateFile(record.ramFile.path, { exclusive: true });
    await options.prepare?.(); // before qemuCommand: it may create the images whose cache modes are probed
    await setUpTaps(store, record);
    if (options.createdDisks !== undefined && options.createdDisks.length > 0) {
      // What the reaper may remove should this xl die: the files just made, by inode.
      const made = await Promise.all(options.createdDisks.map((f) => identifyFile(f)));
      const createdFiles = made.filter((m): m is FileIdentity => m !== undefined);
      await store.update(record.id, (r) => ({ ...r, createdFiles }));
    }
    const accel =
      options.accel ?? (await chooseAccel(record.config, { cacheDir: store.cacheDir }))?.accel ?? 'tcg';
    const { argv } = await qemuCommand(record.config, paths, {
      accel,
      paused: options.paused,
      incoming: options.incoming,
      ramBytes: options.ramBytes,
      cacheDir: store.cacheDir,
      domid: record.id,
      binary,
      ...(options.machine === undefined ? {} : { machine: options.machine }),
      ...(record.ramFile === undefined ? {} : { ramFile: record.ramFile.path }),
    });
    const result = await runDaemonizing(binary, argv, {
      env: qemuEnv(process.env, binary),
      logFile: paths.qemuLog,
      timeoutMs: options.timeoutMs ?? 60_000,
      ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
    });
    if (result.failed) {
      const last = await lastQemuLogLine(store, record.id);
      const why =
        last ??
        (result.timedOut
          ? 'timed out'
          : result.notFound
            ? `${binary} not found`
            : result.exitCode !== undefined
              ? `exit status ${result.exitCode}`
              : result.signal !== undefined
                ? `killed by ${result.signal}`
                : (result.error?.message ?? 'it failed'));
      throw new XlError('XL_QEMU_FAILED', `QEMU failed to start domain '${name}': ${why}`, {
        cause: result,
        domain: name,
      });
    }
    pid = await readPid(paths.pid);
    const stat = readProcStat(pid);
    if (!stat)
      throw new XlError(
        'XL_QEMU_FAILED',
        `QEMU for domain '${name}' exited right after starting: ${(await lastQemuLogLine(store, record.id)) ?? 'no message'}`,
      );
    const qemuPid = pid;
    // Its control and console: QEMU made them 0750 (host/private-files.ts).
    await makeSocketsPrivate([paths.qmp, paths.console, paths.vnc]);
    const withPid = await store.update(record.id, (r) => ({
      ...r,
      qemu: { pid: qemuPid, startTime: stat.startTime, binary, argv },
    }));
    qmp = await connectQmp(store, withPid);
    const v = qmp.greeting.version.qemu;
    const version = `${v.major}.${v.minor}.${v.micro}`;
    const status: DomainStatus = options.incoming ? 'incoming' : options.paused ? 'paused' : 'running';
    // An incoming domain stays owned by its migrate-receive: if that dies, the next xl reaps it.
    const done = await store.update(record.id, (r) => {
      const { ownerPid, ...rest } = r;
      return {
        ...rest,
        ...(options.incoming && ownerPid !== undefined ? { ownerPid } : {}),
        status,
        qemu: { ...r.qemu!, version },
      };
    });
    if (options.keepQmp === undefined) await qmp.close();
    else options.keepQmp(qmp);
    return done;
  } catch (err) {
    await qmp?.close();
    killQuietly(pid);
    await store.remove(record.id).catch(() => undefined);
    if (err instanceof XlError) throw err;
    throw new XlError(
      'XL_QEMU_FAILED',
      `starting domain '${name}' failed: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err, domain: name },
    );
  }
}
