import { describe, expect, it } from 'vitest';
import { testDomainConfig } from '../testing/domain-config.js';
import { assertBinarySupports, parseTypeHelp, typesUsed } from './binary-support.js';

describe('binary support for xl upgrade', () => {
  it('reads device names from -device help and object names from -object help', () => {
    const devices = parseTypeHelp(
      'Storage devices:\nname "virtio-blk-pci", bus PCI, alias "virtio-blk"\nname "ide-hd", bus IDE\n\n',
    );
    expect([...devices]).toEqual(['virtio-blk-pci', 'ide-hd']);
    const objects = parseTypeHelp(
      'List of user creatable objects:\n  memory-backend-file\n  memory-backend-memfd\n',
    );
    expect([...objects]).toEqual(['memory-backend-file', 'memory-backend-memfd']);
  });

  it("lists the device and object types xl's command line gives a domain", () => {
    const base = testDomainConfig();
    const used = typesUsed({
      ...base,
      memoryBacking: 'shared',
      vifs: [{ type: 'user', model: 'e1000' }],
      disks: [
        { vdev: 'xvda', bus: 'virtio', index: 0, format: 'raw', readOnly: false, cdrom: false, target: '/a' },
        { vdev: 'hdc', bus: 'ide', index: 2, format: 'raw', readOnly: true, cdrom: true, target: '/b' },
      ],
    });
    expect(used).toEqual({
      devices: ['e1000', 'ide-cd', 'virtio-blk-pci'],
      objects: ['memory-backend-file'],
    });
    expect(typesUsed({ ...base, disks: [], vifs: [] })).toEqual({ devices: [], objects: [] });
  });

  it('refuses a missing binary and one without the machine type, in one line each', async () => {
    const config = testDomainConfig();
    await expect(
      assertBinarySupports('/nonexistent/qemu-system-x86_64', 'pc-i440fx-7.2', config),
    ).rejects.toThrow(
      /^\/nonexistent\/qemu-system-x86_64 cannot take the domain over: no executable file there$/,
    );
    // The microvm build of QEMU has no i440fx machines.
    await expect(
      assertBinarySupports('/usr/bin/qemu-system-x86_64-microvm', 'pc-i440fx-7.2', config),
    ).rejects.toThrow(/has no machine type pc-i440fx-7\.2$/);
  });
});
