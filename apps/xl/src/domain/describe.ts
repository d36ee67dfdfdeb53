/** A domain as `xl list` shows it: the record plus live facts (QMP run state, CPU time). */
import type { DomainConfig } from '../config/domain-config.js';
import type { DomainPaths } from '../store/domain-paths.js';
import type { DomainRecord, QemuProcessInfo } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';
import { readProcStat } from '../host/process-info.js';
import { queryRunState, withQmp } from './qmp.js';

export interface DomainView {
  id: number;
  name: string;
  uuid: string;
  /** QMP run state ("running", "paused", "inmigrate", ...) or xl's recorded status. */
  status: string;
  /** Where `status` came from: QEMU itself, or xl's record when QMP was busy or unreachable. */
  statusSource: 'qmp' | 'record';
  /** xl's six-letter state column (r running, b blocked, p paused, s shutdown, c crashed, d dying). */
  state: string;
  memory: number;
  vcpus: number;
  cpuSeconds: number;
  createdAt: string;
  qemu: QemuProcessInfo | undefined;
  paths: DomainPaths;
  config: DomainConfig;
}

const STATE_FLAGS: Record<string, string> = {
  running: 'r-----',
  paused: '--p---',
  prelaunch: '--p---',
  inmigrate: '--p---',
  incoming: '--p---',
  postmigrate: '--p---',
  'finish-migrate': '--p---',
  'save-vm': '--p---',
  'restore-vm': '--p---',
  suspended: '--p---',
  shutdown: '---s--',
  'shutting-down': '---s--',
  'guest-panicked': '----c-',
  'internal-error': '----c-',
  'io-error': '----c-',
  creating: '-----d',
};

export function stateFlags(status: string): string {
  return STATE_FLAGS[status] ?? '------';
}

/** QMP is tried briefly: QEMU serves one QMP client at a time (e.g. during a migration). */
export async function describeDomain(store: DomainStore, record: DomainRecord): Promise<DomainView> {
  let status: string = record.status;
  let statusSource: DomainView['statusSource'] = 'record';
  if (record.qemu && record.status !== 'creating') {
    try {
      const s = await withQmp(store, record, (qmp) => queryRunState(qmp), {
        connectTimeoutMs: 1_000,
        handshakeTimeoutMs: 1_500,
      });
      status = s.status;
      statusSource = 'qmp';
    } catch {
      // Busy or unreachable: fall back to the recorded status.
    }
  }
  return {
    id: record.id,
    name: record.name,
    uuid: record.uuid,
    status,
    statusSource,
    state: stateFlags(status),
    memory: record.config.memory,
    vcpus: record.config.vcpus,
    cpuSeconds: record.qemu ? (readProcStat(record.qemu.pid)?.cpuSeconds ?? 0) : 0,
    createdAt: record.createdAt,
    qemu: record.qemu,
    paths: store.paths(record.id),
    config: record.config,
  };
}
