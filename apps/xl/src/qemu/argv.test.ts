import { describe, expect, it } from 'vitest';
import { buildQemuArgv } from './argv.js';
import { domainPaths } from '../store/domain-paths.js';
import { parseDiskSpec } from '../config/disk-spec.js';
import type { DomainConfig } from '../config/domain-config.js';

const pos = { file: 'f', line: 1, column: 1 };
const base: DomainConfig = {
  name: 'web,1',
  uuid: '5d5b4e0a-1b2c-4d3e-8f90-a1b2c3d4e5f6',
  memory: 256,
  vcpus: 2,
  kernel: '/k',
  ramdisk: '/i',
  cmdline: 'console=ttyS0',
  disks: [],
  vifs: [],
  serial: 'pty',
  onPoweroff: 'destroy',
  onReboot: 'restart',
  onCrash: 'destroy',
  accel: 'tcg',
  memoryBacking: 'anonymous',
};
const paths = domainPaths('/run/x,l', 7);

function after(argv: string[], flag: string): string[] {
  return argv.flatMap((a, i) => (a === flag ? [argv[i + 1] ?? ''] : []));
}

describe('buildQemuArgv', () => {
  it('names, sizes and boots the domain; every runtime path is in its own id directory', () => {
    const argv = buildQemuArgv(base, paths, { accel: 'tcg' });
    expect(after(argv, '-name')).toEqual(['guest=web,,1']);
    expect(after(argv, '-uuid')).toEqual([base.uuid]);
    expect(after(argv, '-m')).toEqual(['256M']);
    expect(after(argv, '-smp')).toEqual(['2']);
    expect(after(argv, '-accel')).toEqual(['tcg']);
    expect(after(argv, '-kernel')).toEqual(['/k']);
    expect(after(argv, '-initrd')).toEqual(['/i']);
    expect(after(argv, '-append')).toEqual(['console=ttyS0']);
    expect(after(argv, '-pidfile')).toEqual(['/run/x,l/domains/7/qemu.pid']);
    const chardevs = after(argv, '-chardev');
    expect(chardevs).toContain('socket,id=qmp,path=/run/x,,l/domains/7/qmp.sock,server=on,wait=off');
    expect(chardevs[0]).toContain('logfile=/run/x,,l/domains/7/console.log');
    expect(argv).toContain('-daemonize');
    expect(argv).not.toContain('-S');
    expect(argv).not.toContain('-incoming');
    expect(chardevs.some((c) => c.includes('id=recovery'))).toBe(false);
  });

  it('adds -S and -incoming defer when asked', () => {
    const argv = buildQemuArgv(base, paths, {
      accel: 'kvm',
      paused: true,
      incoming: 'defer',
      daemonize: false,
    });
    expect(argv).toContain('-S');
    expect(after(argv, '-incoming')).toEqual(['defer']);
    // The post-copy recovery monitor, beside the main one.
    expect(after(argv, '-chardev')).toContain(
      'socket,id=recovery,path=/run/x,,l/domains/7/recovery-qmp.sock,server=on,wait=off',
    );
    expect(after(argv, '-mon')).toEqual(['chardev=qmp,mode=control', 'chardev=recovery,mode=control']);
    expect(after(argv, '-accel')).toEqual(['kvm']);
    expect(argv).not.toContain('-daemonize');
  });

  it('puts virtio disks in vdev order and IDE disks on their bus and unit', () => {
    const disks = ['/b,qcow2,xvdb', '/d,raw,hdd,rw', 'vdev=xvda, access=ro, target=/a,x'].map((s) =>
      parseDiskSpec(s, pos),
    );
    const argv = buildQemuArgv({ ...base, disks }, paths, { accel: 'tcg' });
    expect(after(argv, '-device')).toEqual([
      'virtio-blk-pci,id=xvda,drive=disk-xvda',
      'virtio-blk-pci,id=xvdb,drive=disk-xvdb',
      'ide-hd,id=hdd,bus=ide.1,unit=1,drive=disk-hdd',
    ]);
    const blockdevs = after(argv, '-blockdev').map((j) => JSON.parse(j) as Record<string, unknown>);
    expect(blockdevs[0]).toEqual({
      driver: 'raw',
      'node-name': 'disk-xvda',
      'read-only': true,
      file: { driver: 'file', 'node-name': 'disk-xvda-file', filename: '/a,x', 'read-only': true },
    });
    expect(blockdevs[1]).toMatchObject({ driver: 'qcow2', 'read-only': false, file: { filename: '/b' } });
  });

  it('opens a cache=none disk with O_DIRECT on both of its nodes, and leaves the others to the page cache', () => {
    const disks = [
      'format=raw, vdev=xvda, cache=none, target=/a',
      'format=qcow2, vdev=xvdb, cache=writeback, target=/b',
    ].map((s) => parseDiskSpec(s, pos));
    const [a, b] = after(buildQemuArgv({ ...base, disks }, paths, { accel: 'tcg' }), '-blockdev').map(
      (j) => JSON.parse(j) as Record<string, unknown>,
    );
    const direct = { direct: true, 'no-flush': false };
    expect(a).toMatchObject({ cache: direct, file: { filename: '/a', cache: direct } });
    expect(b).not.toHaveProperty('cache');
    expect(b?.file).not.toHaveProperty('cache');
  });

  it('uses user-mode networking for vifs and a shared RAM file for memory_backing=shared', () => {
    const argv = buildQemuArgv(
      {
        ...base,
        vifs: [{ type: 'user', model: 'e1000', mac: '00:16:3e:00:00:01' }],
        memoryBacking: 'shared',
      },
      paths,
      { accel: 'tcg', ramFile: '/dev/shm/xlkit-ram-a,b' },
    );
    expect(after(argv, '-netdev')).toEqual(['user,id=net0']);
    expect(after(argv, '-device')).toEqual(['e1000,netdev=net0,id=vif0,mac=00:16:3e:00:00:01']);
    expect(after(argv, '-object')).toEqual([
      'memory-backend-file,id=ram0,size=256M,mem-path=/dev/shm/xlkit-ram-a,,b,share=on',
    ]);
    expect(after(argv, '-machine')).toContain('memory-backend=ram0');
    expect(() => buildQemuArgv({ ...base, memoryBacking: 'shared' }, paths, { accel: 'tcg' })).toThrow(
      /RAM file/,
    );
  });

  it("opens bridged vifs' taps by name (vif<domid>.<n> or vifname) and runs no QEMU scripts", () => {
    const argv = buildQemuArgv(
      {
        ...base,
        vifs: [
          { type: 'tap', model: 'virtio-net-pci', mac: '00:16:3e:00:00:01', bridge: 'br0' },
          { type: 'user', model: 'rtl8139' },
          { type: 'tap', model: 'e1000', bridge: 'br1', vifname: 'web0' },
        ],
      },
      paths,
      { accel: 'tcg', domid: 12 },
    );
    expect(after(argv, '-netdev')).toEqual([
      'tap,id=net0,ifname=vif12.0,script=no,downscript=no',
      'user,id=net1',
      'tap,id=net2,ifname=web0,script=no,downscript=no',
    ]);
    expect(after(argv, '-device')).toEqual([
      'virtio-net-pci,netdev=net0,id=vif0,mac=00:16:3e:00:00:01',
      'rtl8139,netdev=net1,id=vif1',
      'e1000,netdev=net2,id=vif2',
    ]);
  });

  it('starts the machine type it is given (an upgrade keeps the one the domain runs on), else pc', () => {
    expect(after(buildQemuArgv(base, paths, { accel: 'tcg' }), '-machine')).toEqual(['pc']);
    expect(after(buildQemuArgv(base, paths, { accel: 'tcg', machine: 'pc-i440fx-7.2' }), '-machine')).toEqual(
      ['pc-i440fx-7.2'],
    );
  });

  it('gives the guest an exact RAM size in KiB when it is not whole MiB, for -m and the RAM file backend alike', () => {
    const ramBytes = 256 * 1024 * 1024 + 8192;
    expect(after(buildQemuArgv(base, paths, { accel: 'tcg', ramBytes }), '-m')).toEqual(['262152K']);
    const shared = buildQemuArgv({ ...base, memoryBacking: 'shared' }, paths, {
      accel: 'tcg',
      ramBytes,
      ramFile: '/dev/shm/r',
    });
    expect(after(shared, '-m')).toEqual(['262152K']);
    expect(after(shared, '-object')).toEqual([
      'memory-backend-file,id=ram0,size=262152K,mem-path=/dev/shm/r,share=on',
    ]);
    expect(after(buildQemuArgv(base, paths, { accel: 'tcg', ramBytes: 512 * 1024 * 1024 }), '-m')).toEqual([
      '512M',
    ]);
  });

  it('maps lifecycle actions and serial none', () => {
    const argv = buildQemuArgv(
      { ...base, serial: 'none', onReboot: 'destroy', onPoweroff: 'preserve', onCrash: 'preserve' },
      paths,
      { accel: 'tcg' },
    );
    expect(after(argv, '-action')).toEqual(['reboot=shutdown,shutdown=pause,panic=pause']);
    expect(after(argv, '-serial')).toEqual([]);
  });

  it('maps maxvcpus, boot order, VNC, discard and device_model_args (last, word for word)', () => {
    const disks = [parseDiskSpec('/a.img,raw,xvda,rw,discard', pos)];
    const argv = buildQemuArgv(
      {
        ...base,
        disks,
        maxvcpus: 4,
        boot: 'dc',
        vnc: {},
        vga: 'std',
        deviceModelArgs: ['-device', 'virtio-rng-pci', '-append', 'a b; rm -rf /'],
      },
      paths,
      { accel: 'tcg' },
    );
    expect(after(argv, '-smp')).toEqual(['2,maxcpus=4']);
    expect(after(argv, '-boot')).toEqual(['order=dc']);
    expect(after(argv, '-vga')).toEqual(['std']);
    expect(after(argv, '-vnc')).toEqual(['unix:/run/x,,l/domains/7/vnc.sock']);
    expect(JSON.parse(after(argv, '-blockdev')[0] ?? '')).toMatchObject({ discard: 'unmap' });
    expect(argv.slice(-4)).toEqual(['-device', 'virtio-rng-pci', '-append', 'a b; rm -rf /']);
    const tcp = buildQemuArgv({ ...base, vnc: { host: '0.0.0.0' } }, paths, { accel: 'tcg' });
    expect(after(tcp, '-vnc')).toEqual(['0.0.0.0:0,to=99']);
    expect(after(tcp, '-vga')).toEqual(['none']);
    const fixed = buildQemuArgv({ ...base, vnc: { host: '127.0.0.1', display: 3 } }, paths, { accel: 'tcg' });
    expect(after(fixed, '-vnc')).toEqual(['127.0.0.1:3']);
    expect(after(buildQemuArgv(base, paths, { accel: 'tcg' }), '-vnc')).toEqual([]);
  });

  it('option strings: commas in names and paths doubled; ids, addresses and models with commas refused', () => {
    const disk = parseDiskSpec('format=raw, vdev=xvda, target=/img/a,b,file=/etc/shadow', pos);
    const argv = buildQemuArgv({ ...base, disks: [disk], memoryBacking: 'shared' }, paths, {
      accel: 'tcg',
      ramFile: '/dev/shm/r,share=off',
    });
    expect(after(argv, '-name')).toEqual(['guest=web,,1']);
    for (const opt of [...after(argv, '-chardev'), ...after(argv, '-object')]) {
      // Every comma left single separates QEMU's own keys: none comes from a path or name.
      const keys = opt
        .replaceAll(',,', '')
        .split(',')
        .map((kv) => kv.split('=')[0]);
      expect(keys.filter((k) => !/^[a-z][a-z0-9-]*$/.test(k ?? ''))).toEqual([]);
    }
    expect(after(argv, '-chardev').join(' ')).toContain('path=/run/x,,l/');
    expect(after(argv, '-object')[0]).toContain('mem-path=/dev/shm/r,,share=off,share=on');
    // -blockdev is JSON: the path is one string value, commas and all.
    expect(JSON.parse(after(argv, '-blockdev')[0]!).file.filename).toBe('/img/a,b,file=/etc/shadow');
    expect(() =>
      buildQemuArgv({ ...base, vnc: { host: '127.0.0.1,password=off' } }, paths, { accel: 'tcg' }),
    ).toThrow(/vnc host '127.0.0.1,password=off' cannot go into a QEMU option/);
    expect(() =>
      buildQemuArgv({ ...base, vifs: [{ type: 'user', model: 'e1000,romfile=/etc/shadow' }] }, paths, {
        accel: 'tcg',
      }),
    ).toThrow(/vif model/);
    expect(() => buildQemuArgv(base, paths, { accel: 'tcg', machine: 'pc,accel=kvm' })).toThrow(
      /machine type/,
    );
  });

  it('opens block devices with host_device, image files with file', () => {
    const disks = [parseDiskSpec('phy:/dev/vg/web,xvda,w', pos), parseDiskSpec('/img/b.raw,raw,xvdb,w', pos)];
    const argv = buildQemuArgv({ ...base, disks }, paths, {
      accel: 'tcg',
      blockDevices: new Set(['/dev/vg/web']),
    });
    const drivers = after(argv, '-blockdev').map(
      (b) => (JSON.parse(b) as { file: { driver: string } }).file.driver,
    );
    expect(drivers).toEqual(['host_device', 'file']);
  });
});
