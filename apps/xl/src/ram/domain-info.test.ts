import { describe, expect, test } from 'vitest';
import type { DiskSpec } from '../config/disk-spec.js';
import { machineName, toDomainInfo, type DomainInfoSources } from './domain-info.js';

const disk: DiskSpec = {
  target: '/images/a.qcow2',
  format: 'qcow2',
  vdev: 'xvda',
  bus: 'virtio',
  index: 0,
  readOnly: false,
  cdrom: false,
};

function sources(over: Partial<DomainInfoSources> = {}): DomainInfoSources {
  return {
    version: { major: 7, minor: 2, micro: 22 },
    machineType: 'pc-i440fx-7.2-machine',
    kvm: { enabled: false, present: true },
    memory: { 'base-memory': 128 * 1024 ** 2 },
    cpus: [{ 'cpu-index': 0 }, { 'cpu-index': 1 }],
    blocks: [
      {
        device: '',
        qdev: '/machine/peripheral/xvda/virtio-backend',
        inserted: {
          'node-name': 'disk-xvda',
          drv: 'qcow2',
          image: { format: 'qcow2', 'virtual-size': 1 << 30, 'actual-size': 196608 },
        },
      },
      { device: 'cd', inserted: undefined },
    ],
    disks: [disk, { ...disk, target: undefined, vdev: 'hdc', bus: 'ide', cdrom: true }],
    ...over,
  };
}

describe('domain info from QMP answers', () => {
  test('maps version, machine, accel, memory, vcpus and disks by vdev', () => {
    expect(toDomainInfo(sources())).toEqual({
      qemuVersion: '7.2.22',
      machine: 'pc-i440fx-7.2',
      accel: 'tcg',
      memoryMiB: 128,
      vcpus: 2,
      disks: [{ id: 'xvda', format: 'qcow2', virtualSize: 1 << 30, allocation: 196608 }],
    });
    expect(toDomainInfo(sources({ kvm: { enabled: true, present: true } })).accel).toBe('kvm');
  });

  test('RAM that is not whole MiB (the TCG RAM tail) is also given exactly', () => {
    const info = toDomainInfo(sources({ memory: { 'base-memory': 128 * 1024 ** 2 + 8192 } }));
    expect(info).toMatchObject({ memoryMiB: 128, memoryBytes: 128 * 1024 ** 2 + 8192 });
  });

  test('the QOM machine type loses its -machine suffix; anything else is refused', () => {
    expect(machineName('pc-q35-7.2-machine')).toBe('pc-q35-7.2');
    expect(() => machineName('-machine')).toThrow(/machine type/);
    expect(() => machineName(42)).toThrow(/machine type/);
  });

  test('malformed replies are errors naming what was wrong', () => {
    expect(() => toDomainInfo(sources({ memory: { 'base-memory': -1 } }))).toThrow(
      /query-memory-size-summary/,
    );
    expect(() => toDomainInfo(sources({ cpus: [] }))).toThrow(/query-cpus-fast/);
    expect(() => toDomainInfo(sources({ kvm: null }))).toThrow(/query-kvm/);
    expect(() => toDomainInfo(sources({ blocks: [] }))).toThrow(/no image for disk xvda/);
    expect(() => toDomainInfo(sources({ blocks: {} }))).toThrow(/query-block/);
  });
});
