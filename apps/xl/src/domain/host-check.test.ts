import { describe, expect, test } from 'vitest';
import type { DomainInfo } from '@xlkit/stream';
import type { DomainConfig } from '../config/domain-config.js';
import { checkHostCanRun, imageInfoArgs, type HostFacts } from './host-check.js';

const info: DomainInfo = {
  qemuVersion: '7.2.22',
  machine: 'pc-i440fx-7.2',
  accel: 'tcg',
  memoryMiB: 128,
  vcpus: 1,
  disks: [{ id: 'xvda', format: 'raw', virtualSize: 1 << 26, allocation: 4096 }],
};

const config: DomainConfig = {
  name: 'g',
  memory: 128,
  vcpus: 1,
  vifs: [],
  serial: 'pty',
  onPoweroff: 'destroy',
  onReboot: 'restart',
  onCrash: 'destroy',
  accel: 'tcg',
  memoryBacking: 'anonymous',
  disks: [
    {
      target: '/img/a.raw',
      format: 'raw',
      vdev: 'xvda',
      bus: 'virtio',
      index: 0,
      readOnly: false,
      cdrom: false,
    },
  ],
};

const host: HostFacts = {
  machines: new Set(['pc', 'pc-i440fx-7.2', 'pc-i440fx-7.1']),
  defaultMachine: 'pc-i440fx-7.2',
  accel: 'tcg',
  availableMemoryMiB: 4096,
  disks: { xvda: { exists: true, format: 'raw', virtualSize: 1 << 26 } },
};

describe('checkHostCanRun', () => {
  test('a matching host and config pass', () => {
    expect(checkHostCanRun(info, config, host)).toEqual([]);
  });

  test('memory, vcpus, accelerator and host memory mismatches are each named', () => {
    expect(
      checkHostCanRun(
        info,
        { ...config, memory: 256, vcpus: 2 },
        { ...host, accel: 'kvm', availableMemoryMiB: 64 },
      ),
    ).toEqual([
      'accelerator tcg is needed, this host would use kvm',
      'memory is 128 MiB in the stream but 256 MiB in the config',
      'memory 128 MiB exceeds the 64 MiB this host has available',
      'vcpus is 1 in the stream but 2 in the config',
    ]);
  });

  test('machine types: unknown here, or not what this host starts', () => {
    expect(checkHostCanRun({ ...info, machine: 'pc-i440fx-9.0' }, config, host)).toEqual([
      "this host's QEMU does not support machine type pc-i440fx-9.0",
    ]);
    expect(checkHostCanRun({ ...info, machine: 'pc-i440fx-7.1' }, config, host)).toEqual([
      'machine type pc-i440fx-7.1 differs from the one this host starts (pc-i440fx-7.2)',
    ]);
  });

  test('disks: missing file, different size or format, absent from config or from the stream', () => {
    expect(checkHostCanRun(info, config, { ...host, disks: { xvda: { exists: false } } })).toEqual([
      'disk xvda: /img/a.raw does not exist',
    ]);
    expect(
      checkHostCanRun(info, config, {
        ...host,
        disks: { xvda: { exists: true, format: 'raw', virtualSize: 1 << 27 } },
      }),
    ).toEqual([`disk xvda: size is ${1 << 26} bytes in the stream but ${1 << 27} bytes here (/img/a.raw)`]);
    expect(
      checkHostCanRun(info, config, {
        ...host,
        disks: { xvda: { exists: true, format: 'qcow2', virtualSize: 1 << 26 } },
      }),
    ).toEqual(['disk xvda: format is raw in the stream but qcow2 here']);
    expect(checkHostCanRun(info, { ...config, disks: [] }, host)).toEqual([
      'disk xvda is missing from the config',
    ]);
    expect(checkHostCanRun({ ...info, disks: [] }, config, host)).toEqual([
      'disk xvda is in the config but not in the stream',
    ]);
  });

  test("to a migration peer: what does not match, never this host's memory, paths or sizes", () => {
    const problems = [
      ...checkHostCanRun(
        info,
        config,
        { ...host, availableMemoryMiB: 64, disks: { xvda: { exists: false } } },
        'peer',
      ),
      ...checkHostCanRun(
        info,
        config,
        { ...host, disks: { xvda: { exists: true, error: 'Permission denied' } } },
        'peer',
      ),
      ...checkHostCanRun(
        info,
        config,
        { ...host, disks: { xvda: { exists: true, format: 'qcow2', virtualSize: 1 << 27 } } },
        'peer',
      ),
    ];
    expect(problems).toEqual([
      'memory 128 MiB is more than this host can give now',
      'disk xvda: its image is not usable on this host',
      'disk xvda: its image is not usable on this host',
      'disk xvda: its image here is not raw',
      `disk xvda: its image here is not ${1 << 26} bytes`,
    ]);
    expect(problems.join(' ')).not.toMatch(/\b64 MiB|\/img|134217728|Permission/);
  });
});

describe('imageInfoArgs', () => {
  test('opens the path through the file protocol only, commas doubled', () => {
    expect(imageInfoArgs('/img/a,b.qcow2')).toEqual([
      'info',
      '--output=json',
      '-U',
      '--image-opts',
      'file.driver=file,file.filename=/img/a,,b.qcow2',
    ]);
  });
});
