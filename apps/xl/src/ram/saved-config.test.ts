import { describe, expect, it } from 'vitest';
import { XlError } from '../errors.js';
import { checkSavedConfig } from './saved-config.js';

const good = {
  name: 'web',
  uuid: '0b0e6f4e-3d0c-4a55-9d43-1a2b3c4d5e6f',
  memory: 256,
  vcpus: 2,
  kernel: '/boot/vmlinuz',
  cmdline: 'console=ttyS0',
  disks: [
    {
      format: 'qcow2',
      vdev: 'xvda',
      bus: 'virtio',
      index: 0,
      readOnly: false,
      cdrom: false,
      target: '/img/a,b.qcow2',
    },
  ],
  vifs: [
    { type: 'tap', model: 'e1000', mac: '00:16:3e:01:02:03', bridge: 'xenbr0', vifname: 'web0' },
    { type: 'user', model: 'virtio-net-pci' },
  ],
  serial: 'pty',
  onPoweroff: 'destroy',
  onReboot: 'restart',
  onCrash: 'destroy',
  accel: 'tcg',
  memoryBacking: 'anonymous',
};

function refusal(patch: Record<string, unknown>): string {
  try {
    checkSavedConfig({ ...good, ...patch });
  } catch (err) {
    expect(err).toBeInstanceOf(XlError);
    return (err as XlError).message;
  }
  throw new Error('expected a refusal');
}

describe('checkSavedConfig (a config from a save file or a migration peer)', () => {
  it('accepts a valid config and returns one rebuilt from checked fields only', () => {
    const extra = { ...good, surprise: 'x', disks: [{ ...good.disks[0], surprise: 1 }] };
    const c = checkSavedConfig(extra);
    expect(c).toEqual(good);
    expect(c).not.toHaveProperty('surprise');
  });

  it('keeps the xl.cfg compatibility fields, checked, and never takes device_model_args', () => {
    const compat = {
      ...good,
      maxvcpus: 4,
      boot: 'dc',
      vnc: { host: '127.0.0.1', display: 2 },
      vga: 'cirrus',
      disks: [{ ...good.disks[0], discard: true }],
    };
    expect(checkSavedConfig(compat)).toEqual(compat);
    expect(refusal({ deviceModelArgs: ['-device', 'x'] })).toMatch(/device_model_args/);
    expect(refusal({ vnc: { host: '0.0.0.0,password=on' } })).toMatch(/bad vnc host/);
    expect(refusal({ maxvcpus: 1 })).toMatch(/bad maxvcpus/);
    expect(refusal({ boot: 'c,x' })).toMatch(/bad boot/);
    expect(refusal({ vga: 'qxl' })).toMatch(/bad vga/);
  });

  it('reads vifs of configs from before bridged networking as user-mode', () => {
    expect(checkSavedConfig({ ...good, vifs: [{ model: 'e1000' }] }).vifs).toEqual([
      { type: 'user', model: 'e1000' },
    ]);
  });

  it('refuses values that would add QEMU options or run another binary', () => {
    expect(refusal({ vifs: [{ model: 'e1000,romfile=/etc/shadow' }] })).toMatch(/vif 0: bad model/);
    expect(refusal({ vifs: [{ model: 'e1000', mac: '00:16:3e:01:02:03,x=y' }] })).toMatch(/vif 0: bad mac/);
    expect(refusal({ disks: [{ ...good.disks[0], vdev: 'xvda,id=x' }] })).toMatch(/disk 0: bad vdev/);
    const tap = { type: 'tap', model: 'e1000', bridge: 'br0' };
    expect(refusal({ vifs: [{ ...tap, bridge: 'br0,script=/bin/sh' }] })).toMatch(/vif 0: bad bridge/);
    expect(refusal({ vifs: [{ ...tap, vifname: '-x' }] })).toMatch(/vif 0: .*vifname: bad interface name/);
    expect(refusal({ vifs: [{ ...tap, script: '/usr/bin/reboot' }] })).toMatch(
      /vif 0: script '\/usr\/bin\/reboot' is not in \/etc\/xen\/scripts; give a config file/,
    );
    expect(refusal({ vifs: [{ ...tap, script: '/etc/xen/scripts/../../bin/sh' }] })).toMatch(
      /vif 0: .*vif script: bad value/,
    );
    expect(refusal({ vifs: [{ model: 'e1000', bridge: 'br0' }] })).toMatch(
      /vif 0: .*vif bridge: not possible with type=user/,
    );
    expect(refusal({ disks: [{ ...good.disks[0], vdev: 'sda' }] })).toMatch(/disk 0: .*bad vdev 'sda'/);
    expect(refusal({ disks: [{ ...good.disks[0], format: 'vmdk' }] })).toMatch(
      /disk 0: .*bad disk format 'vmdk'/,
    );
    expect(refusal({ deviceModel: '/tmp/evil' })).toMatch(
      /device model '\/tmp\/evil' is not a qemu-system binary/,
    );
    expect(refusal({ accel: 'xen' })).toMatch(/bad accel/);
    expect(refusal({ onCrash: 'coredump-restart' })).toMatch(/bad onCrash/);
  });

  it("keeps a disk's cache mode the config set, and refuses another", () => {
    for (const cache of ['none', 'writeback'])
      expect(checkSavedConfig({ ...good, disks: [{ ...good.disks[0], cache }] }).disks[0]?.cache).toBe(cache);
    expect(checkSavedConfig(good).disks[0]).not.toHaveProperty('cache');
    expect(refusal({ disks: [{ ...good.disks[0], cache: 'unsafe' }] })).toMatch(
      /disk 0: bad cache \(expected none or writeback\)/,
    );
  });

  it('takes a qemu-system binary from the system bin directories', () => {
    expect(checkSavedConfig({ ...good, deviceModel: '/usr/bin/qemu-system-x86_64' }).deviceModel).toBe(
      '/usr/bin/qemu-system-x86_64',
    );
    expect(checkSavedConfig({ ...good, deviceModel: 'qemu-system-x86_64' }).deviceModel).toBeUndefined();
  });

  it('refuses host paths that are not absolute, normalized and plain, before anything uses them', () => {
    const disk = (target: string) => ({ disks: [{ ...good.disks[0], target }] });
    expect(refusal(disk('nbd://127.0.0.1:10809/x'))).toMatch(
      /bad disk 0 target .*: expected an absolute path/,
    );
    expect(refusal(disk('json:{"driver":"nbd"}'))).toMatch(/bad disk 0 target .*: expected an absolute path/);
    expect(refusal(disk('--object=secret,id=x'))).toMatch(/bad disk 0 target .*: expected an absolute path/);
    expect(refusal(disk('/img/../etc/passwd'))).toMatch(/bad disk 0 target .*: expected a normalized path/);
    expect(refusal(disk('/img/a\n.qcow2'))).toMatch(/bad disk 0 target .*: contains control characters/s);
    expect(refusal({ kernel: 'vmlinuz' })).toMatch(/bad kernel 'vmlinuz': expected an absolute path/);
    expect(refusal({ kernel: '/boot//vmlinuz' })).toMatch(/bad kernel .*: expected a normalized path/);
    expect(refusal({ ramdisk: 'file:/boot/initrd' })).toMatch(/bad ramdisk .*: expected an absolute path/);
    expect(refusal({ kernel: 42 })).toMatch(/bad kernel: expected a string/);
    expect(refusal({ cmdline: 'console=ttyS0\x1b[2J' })).toMatch(/bad cmdline/);
  });
});
