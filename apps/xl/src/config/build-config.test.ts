import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { parseConfigText } from './load-config.js';

const files = new Set(['/boot/vmlinuz', '/boot/initrd', '/img/a.raw', '/img/b.qcow2', '/usr/local/bin/qemu']);
const opts = { fileExists: (f: string) => files.has(f), cwd: '/' };

function build(text: string, overrides: string[] = []) {
  return parseConfigText(text, 'dom.cfg', overrides, opts);
}

function errorOf(text: string, overrides: string[] = []): ConfigError {
  try {
    build(text, overrides);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const FULL = `
name = "web1"
uuid = "5D5B4E0A-1B2C-4D3E-8F90-A1B2C3D4E5F6"
memory = 256
vcpus = 2
kernel = "/boot/vmlinuz"
ramdisk = "/boot/initrd"
root = "/dev/vda"
extra = "console=ttyS0"
disk = [ "/img/b.qcow2,qcow2,xvdb,rw", "format=raw, vdev=xvda, access=ro, target=/img/a.raw", "/img/a.raw,raw,hda,w" ]
vif = [ "mac=00:16:3E:01:02:03,model=e1000,bridge=xenbr0" ]
serial = "pty"
on_poweroff = "destroy"
on_crash = "preserve"
device_model_override = "/usr/local/bin/qemu"
accel = "auto"
memory_backing = "shared"
type = "hvm"
`;

describe('buildConfig', () => {
  it('builds a full config that survives a JSON round trip', () => {
    const { config, warnings } = build(FULL);
    expect(config).toMatchObject({
      name: 'web1',
      uuid: '5d5b4e0a-1b2c-4d3e-8f90-a1b2c3d4e5f6',
      memory: 256,
      vcpus: 2,
      kernel: '/boot/vmlinuz',
      ramdisk: '/boot/initrd',
      cmdline: 'root=/dev/vda console=ttyS0',
      vifs: [{ type: 'tap', model: 'e1000', mac: '00:16:3e:01:02:03', bridge: 'xenbr0' }],
      serial: 'pty',
      onPoweroff: 'destroy',
      onCrash: 'preserve',
      deviceModel: '/usr/local/bin/qemu',
      accel: 'auto',
      memoryBacking: 'shared',
    });
    expect(config.disks.map((d) => d.vdev)).toEqual(['xvdb', 'xvda', 'hda']);
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
    expect(warnings).toEqual([]);
  });

  it('fills defaults: 128 MiB, 1 vcpu, accel auto, anonymous memory, serial pty', () => {
    const { config } = build('name = "a"');
    expect(config).toEqual({
      name: 'a',
      memory: 128,
      vcpus: 1,
      disks: [],
      vifs: [],
      serial: 'pty',
      onPoweroff: 'destroy',
      onReboot: 'restart',
      onCrash: 'destroy',
      accel: 'auto',
      memoryBacking: 'anonymous',
    });
  });

  it('warns about unknown keys with their position, without failing', () => {
    const { warnings } = build('name = "a"\n  colour = "red"');
    expect(warnings).toEqual(["dom.cfg:2:3: 'colour' is not supported here and is ignored"]);
  });

  it('applies KEY=VALUE overrides after the file, later ones winning', () => {
    const { config } = build('name = "a"\nmemory = 64\ndisk = ["/img/a.raw,raw,xvda"]', [
      'name=b',
      'memory=96',
      'memory="200"',
      'disk+=["/img/b.qcow2,qcow2,xvdb"]',
      "extra='quiet'",
      'kernel=/boot/vmlinuz',
    ]);
    expect(config).toMatchObject({ name: 'b', memory: 200, cmdline: 'quiet', kernel: '/boot/vmlinuz' });
    expect(config.disks.map((d) => d.vdev)).toEqual(['xvda', 'xvdb']);
  });

  it('reports a bad override with its argument and column', () => {
    const err = errorOf('name = "a"', ['memory=12x']);
    expect(err.message).toBe("argument 1 (memory=12x):1:8: expected a number, got '12x'");
    expect(errorOf('name = "a"', ['no-equals']).message).toMatch(
      /^argument 1 \(no-equals\):1:1: expected KEY=VALUE/,
    );
  });

  const cases: [string, string, number, number, RegExp][] = [
    ['no name', 'memory = 64', 1, 1, /no 'name' set/],
    ['numeric name', 'name = "123"', 1, 8, /bad domain name '123'/],
    ['name with a slash', 'name = "a/b"', 1, 8, /bad domain name/],
    ['name as a number', 'name = 5', 1, 8, /'name' must be a string, got a number/],
    [
      'memory too small',
      'name = "a"\nmemory = 1',
      2,
      10,
      /'memory' must be between 16 and 1048576 \(MiB\), got 1/,
    ],
    [
      'memory as words',
      'name = "a"\nmemory = "lots"',
      2,
      10,
      /'memory' must be a number \(MiB\), got 'lots'/,
    ],
    ['vcpus zero', 'name = "a"\nvcpus = 0', 2, 9, /'vcpus' must be between 1 and 255/],
    ['bad uuid', 'name = "a"\nuuid = "nope"', 2, 8, /bad uuid 'nope'/],
    [
      'missing kernel file',
      'name = "a"\nkernel = "/boot/none"',
      2,
      10,
      /kernel '\/boot\/none' does not exist/,
    ],
    ['ramdisk without kernel', 'name = "a"\nramdisk = "/boot/initrd"', 2, 11, /'ramdisk' needs a 'kernel'/],
    ['cmdline without kernel', 'name = "a"\nextra = "quiet"', 2, 9, /needs a 'kernel'/],
    [
      'missing disk image',
      'name = "a"\ndisk = ["/img/none.raw,raw,xvda"]',
      2,
      9,
      /disk '\/img\/none.raw' does not exist/,
    ],
    [
      'bad disk inside a list',
      'name = "a"\ndisk = [\n  "/img/a.raw,raw,xvda",\n  "/img/a.raw,raw,sdb" ]',
      4,
      19,
      /bad vdev 'sdb'/,
    ],
    [
      'two disks in one slot',
      'name = "a"\ndisk = ["/img/a.raw,raw,xvda", "/img/b.qcow2,qcow2,vda"]',
      2,
      32,
      /same device slot as xvda/,
    ],
    ['disk as a number', 'name = "a"\ndisk = [1]', 2, 9, /'disk' items must be strings/],
    ['bad accel', 'name = "a"\naccel = "hvf"', 2, 9, /'accel' must be one of tcg, kvm, auto, got 'hvf'/],
    ['bad memory_backing', 'name = "a"\nmemory_backing = "huge"', 2, 18, /one of anonymous, shared/],
    [
      'bad on_crash',
      'name = "a"\non_crash = "explode"',
      2,
      12,
      /'on_crash' must be one of destroy, restart, preserve/,
    ],
    ['bad serial', 'name = "a"\nserial = "tcp:1"', 2, 10, /bad serial 'tcp:1'/],
    ['two serials', 'name = "a"\nserial = ["pty", "pty"]', 2, 18, /only one serial port/],
    ['bad vif mac', 'name = "a"\nvif = ["mac=zz"]', 2, 8, /vif mac: bad value 'zz'/],
    ['bad vif model', 'name = "a"\nvif = ["model=ne2k"]', 2, 8, /vif model: bad value 'ne2k'/],
    [
      'missing device model',
      'name = "a"\ndevice_model_override = "/opt/qemu"',
      2,
      25,
      /device_model_override '\/opt\/qemu' does not exist/,
    ],
  ];
  for (const [what, text, line, column, message] of cases) {
    it(`rejects ${what} at ${line}:${column}`, () => {
      const err = errorOf(text);
      expect([err.file, err.line, err.column]).toEqual(['dom.cfg', line, column]);
      expect(err.message).toMatch(message);
    });
  }
});
