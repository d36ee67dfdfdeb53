/** What xl stores about a domain (domain.json in its directory). Plain JSON. */
import { ConfigSchemaError, parseDomainConfig } from '../config/config-schema.js';
import type { DomainConfig } from '../config/domain-config.js';
import { XlError } from '../errors.js';
import type { CreatedTap } from '../host/net-devices.js';
import { isRamFilePath, type RamFile } from './ram-file.js';
import { isFileIdentity, type FileIdentity } from '../host/file-identity.js';

/**
 * xl's last known run state of a domain. QMP's query-status is the truth when QEMU answers;
 * this is the fallback (e.g. while a migration holds the QMP socket).
 */
export type DomainStatus =
  'creating' | 'running' | 'paused' | 'incoming' | 'saving' | 'migrating' | 'migrated-away' | 'shutting-down';

export interface QemuProcessInfo {
  pid: number;
  /** From /proc/<pid>/stat: tells a recycled pid from our QEMU. */
  startTime: number;
  binary: string;
  argv: string[];
  /** "7.2.22" from the QMP greeting. */
  version?: string;
}

export interface DomainRecord {
  id: number;
  name: string;
  uuid: string;
  config: DomainConfig;
  status: DomainStatus;
  /** ISO time the record was allocated. */
  createdAt: string;
  /** The xl process that allocated the record and is starting QEMU (status 'creating'). */
  ownerPid?: number;
  /**
   * An incoming domain's owner when it is not `xl migrate-receive`: `xl upgrade` receives its
   * domain in-process (for the reaper's words should it die).
   */
  receivedBy?: 'upgrade';
  qemu?: QemuProcessInfo;
  /** Disk images `xl migrate-receive -q` created for this incoming domain: removed if it is reaped. */
  createdDisks?: string[];
  /**
   * Each of createdDisks once it exists (device and inode): the reaper removes only a path that
   * still names the file xl made.
   */
  createdFiles?: FileIdentity[];
  /**
   * Set by `xl migrate-receive` when the incoming migration may switch to post-copy: should its
   * receiver die, the reaper first asks QEMU, as in post-copy this QEMU may hold the only running
   * copy of the guest.
   */
  postcopy?: boolean;
  /** Tap devices xl created for the domain's bridged vifs: removed with the domain, and only these. */
  taps?: CreatedTap[];
  /** memory_backing = "shared": the file QEMU maps the guest's RAM from (ram-file.ts). */
  ramFile?: RamFile;
  /** While `xl save` (ownerPid) runs: its partial file, and whether the domain ran before it. */
  saving?: { partial: FileIdentity; wasRunning: boolean };
  /** While `xl migrate` sends this domain: what the next xl needs should that process die. */
  migration?: MigrationMark;
}

/**
 * Written by the sending xl when it starts and removed when it ends, whatever the outcome
 * (migrate/recover-migration.ts reads a mark whose process is gone).
 */
export interface MigrationMark {
  /** The sending xl: pid and /proc start time (a recycled pid is not it). */
  pid: number;
  startTime: number;
  /** Where it migrates to (for the message). */
  host: string;
  /** The sending command when it is not `xl migrate` (for the message). */
  command?: 'upgrade';
  /** The domain's name, status and run state before the migration. */
  wasName: string;
  wasStatus: DomainStatus;
  wasRunning: boolean;
  /**
   * Set with the rename to NAME--migratedaway, just before GO is written (or at post-copy's
   * start): from then on the domain may run on the destination and the source is never resumed.
   */
  pastGo: boolean;
}

export type NewDomain = Pick<DomainRecord, 'name' | 'uuid' | 'config'> &
  Partial<Pick<DomainRecord, 'status' | 'createdDisks' | 'ramFile' | 'receivedBy'>>;

/** Checks the shape of a record read from disk (bounds-checked like any input). */
export function validateRecord(value: unknown, file: string): DomainRecord {
  const bad = (what: string): never => {
    throw new XlError('XL_STATE', `corrupt domain record ${file}: ${what}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return bad('not a JSON object');
  const r = value as Record<string, unknown>;
  if (!Number.isSafeInteger(r.id) || (r.id as number) < 1) bad('bad id');
  if (typeof r.name !== 'string' || r.name === '') bad('bad name');
  if (typeof r.uuid !== 'string') bad('bad uuid');
  if (typeof r.status !== 'string') bad('bad status');
  let config: DomainConfig;
  try {
    // The same schema as a save file's config; a record's device model may be any path xl resolved.
    config = parseDomainConfig(r.config, { origin: 'record' });
  } catch (err) {
    if (!(err instanceof ConfigSchemaError)) throw err;
    return bad(`config ${err.message}`);
  }
  if (r.postcopy !== undefined && typeof r.postcopy !== 'boolean') bad('bad postcopy flag');
  if (r.taps !== undefined && !validTaps(r.taps)) bad('bad taps');
  const f = r.ramFile as Record<string, unknown> | undefined;
  if (
    f !== undefined &&
    (typeof f !== 'object' || f === null || !isRamFilePath(f.path) || typeof f.owner !== 'boolean')
  )
    bad('bad RAM file');
  if (r.migration !== undefined && !validMark(r.migration)) bad('bad migration mark');
  const q = r.qemu as Record<string, unknown> | undefined;
  if (
    q !== undefined &&
    (typeof q !== 'object' ||
      q === null ||
      !Number.isSafeInteger(q.pid) ||
      !Number.isSafeInteger(q.startTime))
  )
    bad('bad qemu process info');
  if (
    q !== undefined &&
    (!Array.isArray(q.argv) || !q.argv.every((a) => typeof a === 'string') || typeof q.binary !== 'string')
  )
    bad('bad qemu command line');
  if (r.ownerPid !== undefined && !Number.isSafeInteger(r.ownerPid)) bad('bad owner pid');
  if (r.receivedBy !== undefined && r.receivedBy !== 'upgrade') bad('bad receivedBy');
  if (
    r.createdDisks !== undefined &&
    (!Array.isArray(r.createdDisks) || !r.createdDisks.every((f) => typeof f === 'string'))
  )
    bad('bad createdDisks');
  if (
    r.createdFiles !== undefined &&
    (!Array.isArray(r.createdFiles) || !r.createdFiles.every(isFileIdentity))
  )
    bad('bad createdFiles');
  const saving = r.saving as Record<string, unknown> | undefined;
  if (
    saving !== undefined &&
    (typeof saving !== 'object' ||
      saving === null ||
      !isFileIdentity(saving.partial) ||
      typeof saving.wasRunning !== 'boolean')
  )
    bad('bad saving marker');
  return { ...(value as DomainRecord), config };
}

const IFNAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;

function validTaps(taps: unknown): boolean {
  if (!Array.isArray(taps) || taps.length > 64) return false;
  return taps.every((t: unknown) => {
    if (typeof t !== 'object' || t === null) return false;
    const { name, bridge, script, mac } = t as Record<string, unknown>;
    return (
      typeof name === 'string' &&
      IFNAME.test(name) &&
      (bridge === undefined || (typeof bridge === 'string' && IFNAME.test(bridge))) &&
      (script === undefined || (typeof script === 'string' && /^(\/[A-Za-z0-9_.+-]+)+$/.test(script))) &&
      (mac === undefined || (typeof mac === 'string' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)))
    );
  });
}

function validMark(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const m = value as Record<string, unknown>;
  return (
    Number.isSafeInteger(m.pid) &&
    (m.pid as number) > 0 &&
    Number.isSafeInteger(m.startTime) &&
    typeof m.host === 'string' &&
    (m.command === undefined || m.command === 'upgrade') &&
    typeof m.wasName === 'string' &&
    m.wasName !== '' &&
    typeof m.wasStatus === 'string' &&
    typeof m.wasRunning === 'boolean' &&
    typeof m.pastGo === 'boolean'
  );
}
