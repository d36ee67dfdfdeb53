/**
 * Phase-one domain info: what a destination needs to start an identical QEMU (QEMU version,
 * machine type, accelerator, memory, vCPUs, each disk's format and sizes), read from the
 * running QEMU over QMP. QMP replies are checked like any input.
 */
import { queryBlock, type QmpClient } from '@xlkit/qmp';
import type { DiskInfo, DomainInfo } from '@xlkit/stream';
import type { DiskSpec } from '../config/disk-spec.js';
import { XlError } from '../errors.js';
import { diskNodeName } from '../qemu/argv.js';

/** The raw QMP answers domain info is made of (so the mapping is testable without QEMU). */
export interface DomainInfoSources {
  version: { major: number; minor: number; micro: number };
  /** qom-get /machine type, e.g. "pc-i440fx-7.2-machine". */
  machineType: unknown;
  /** query-kvm. */
  kvm: unknown;
  /** query-memory-size-summary. */
  memory: unknown;
  /** query-cpus-fast. */
  cpus: unknown;
  /** query-block. */
  blocks: unknown;
  /** The domain's configured disks (to name QEMU's block nodes by vdev). */
  disks: readonly DiskSpec[];
}

function bad(what: string, value: unknown): XlError {
  return new XlError(
    'XL_QEMU_FAILED',
    `unexpected QMP reply for ${what}: ${JSON.stringify(value)?.slice(0, 200)}`,
  );
}

function obj(v: unknown): Record<string, unknown> | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

function count(v: unknown, what: string, min = 0): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw bad(what, v);
  return v;
}

/** "pc-i440fx-7.2-machine" → "pc-i440fx-7.2" (QOM type name → -machine name). */
export function machineName(qomType: unknown): string {
  if (typeof qomType !== 'string' || !qomType.endsWith('-machine') || qomType.length <= '-machine'.length)
    throw bad('the machine type', qomType);
  return qomType.slice(0, -'-machine'.length);
}

function diskInfos(blocks: unknown, disks: readonly DiskSpec[]): DiskInfo[] {
  if (!Array.isArray(blocks)) throw bad('query-block', blocks);
  const byNode = new Map<string, Record<string, unknown>>();
  for (const b of blocks) {
    const inserted = obj(obj(b)?.inserted);
    if (inserted && typeof inserted['node-name'] === 'string') byNode.set(inserted['node-name'], inserted);
  }
  const out: DiskInfo[] = [];
  for (const d of disks) {
    if (d.target === undefined) continue;
    const inserted = byNode.get(diskNodeName(d));
    const image = obj(inserted?.image);
    if (!inserted || !image)
      throw new XlError(
        'XL_QEMU_FAILED',
        `QEMU reports no image for disk ${d.vdev} (node ${diskNodeName(d)})`,
      );
    const format = typeof image.format === 'string' && image.format !== '' ? image.format : inserted.drv;
    if (typeof format !== 'string' || format === '') throw bad(`the format of disk ${d.vdev}`, image);
    out.push({
      id: d.vdev,
      format,
      virtualSize: count(image['virtual-size'], `the size of disk ${d.vdev}`),
      allocation: count(image['actual-size'] ?? 0, `the allocation of disk ${d.vdev}`),
    });
  }
  return out;
}

/** Maps the QMP answers to the DOMAIN_INFO record's value. */
export function toDomainInfo(s: DomainInfoSources): DomainInfo {
  const v = s.version;
  const memory = obj(s.memory);
  const baseMemory = count(memory?.['base-memory'], 'query-memory-size-summary', 1);
  if (!Array.isArray(s.cpus) || s.cpus.length === 0) throw bad('query-cpus-fast', s.cpus);
  const kvm = obj(s.kvm);
  if (kvm === undefined || typeof kvm.enabled !== 'boolean') throw bad('query-kvm', s.kvm);
  return {
    qemuVersion: `${v.major}.${v.minor}.${v.micro}`,
    machine: machineName(s.machineType),
    accel: kvm.enabled ? 'kvm' : 'tcg',
    memoryMiB: Math.floor(baseMemory / 1024 ** 2),
    // Not whole MiB: xl's RAM tail under TCG (qemu/guest-ram.ts); the destination needs it exactly.
    ...(baseMemory % 1024 ** 2 === 0 ? {} : { memoryBytes: baseMemory }),
    vcpus: s.cpus.length,
    disks: diskInfos(s.blocks, s.disks),
  };
}

/**
 * Reads the domain info of a running (or paused) QEMU: the five queries go out together (QEMU
 * answers them in order, xl matches the replies by id), one round trip instead of five.
 */
export async function collectDomainInfo(qmp: QmpClient, disks: readonly DiskSpec[]): Promise<DomainInfo> {
  const [machineType, kvm, memory, cpus, blocks] = await Promise.all([
    qmp.execute('qom-get', { path: '/machine', property: 'type' }),
    qmp.execute('query-kvm'),
    qmp.execute('query-memory-size-summary'),
    qmp.execute('query-cpus-fast'),
    queryBlock(qmp),
  ]);
  return toDomainInfo({ version: qmp.greeting.version.qemu, machineType, kvm, memory, cpus, blocks, disks });
}
