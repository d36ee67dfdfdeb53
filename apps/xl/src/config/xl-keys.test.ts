/** The xl.cfg keys beyond name/memory/disks: machine, display and lifecycle keys. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { parseConfigText } from './load-config.js';

const opts = { fileExists: () => true, cwd: '/' };
const build = (text: string) => parseConfigText(`name = "a"\n${text}`, 'dom.cfg', [], opts);

function errorOf(text: string): ConfigError {
  try {
    build(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected a refusal of: ${text}`);
}

describe('machine keys', () => {
  it('accepts type/builder hvm, maxmem equal to memory, maxvcpus, boot and device_model_args', () => {
    const { config, warnings } = build(
      'type = "hvm"\nbuilder = "hvm"\nmemory = 512\nmaxmem = 512\nvcpus = 2\nmaxvcpus = 4\nboot = "dc"\n' +
        'device_model_args = [ "-device", "virtio-rng-pci" ]\nacpi = 1\napic = 1',
    );
    expect(config).toMatchObject({ memory: 512, vcpus: 2, maxvcpus: 4, boot: 'dc' });
    expect(config.deviceModelArgs).toEqual(['-device', 'virtio-rng-pci']);
    expect(warnings).toEqual([]);
  });

  it('boots PV and PVH kernels directly, saying so', () => {
    const { config, warnings } = build('type = "pv"\nkernel = "/boot/vmlinuz"');
    expect(config.kernel).toBe('/boot/vmlinuz');
    expect(warnings).toEqual([
      expect.stringMatching(/^dom.cfg:2:8: type = "pv" runs as a QEMU machine booting 'kernel' directly/),
    ]);
    expect(build('builder = "generate"\nkernel = "/k"').warnings[0]).toMatch(/builder = "pv"/);
  });

  it('warns, naming the key, about switches QEMU cannot turn and boot beside a kernel', () => {
    const { warnings } = build('acpi = 0\nviridian = 1\nkernel = "/k"\nboot = "c"\ncpus = "0-3"');
    expect(warnings).toEqual([
      "dom.cfg:6:1: 'cpus' is not supported here and is ignored",
      "dom.cfg:5:8: 'boot' has no effect: the domain boots 'kernel' directly",
      "dom.cfg:2:8: 'acpi = 0' is ignored: QEMU's pc machine always has ACPI",
      "dom.cfg:3:12: 'viridian = 1' is ignored: QEMU gets no Hyper-V enlightenments from xl",
    ]);
  });

  it.each([
    ['type = "pv"', /type = "pv" needs a 'kernel'/],
    ['type = "hvm"\nbuilder = "generate"', /'builder' = "generate" contradicts 'type' = "hvm"/],
    ['bootloader = "pygrub"', /'bootloader' = "pygrub" is not supported/],
    ['memory = 512\nmaxmem = 1024', /'maxmem' \(1024 MiB\) differs from 'memory' \(512 MiB\)/],
    ['vcpus = 4\nmaxvcpus = 2', /'maxvcpus' \(2\) is below 'vcpus' \(4\)/],
    ['boot = "a"', /bad boot 'a'/],
    ['boot = "cc"', /bad boot 'cc'/],
    ['device_model_args = [ "-daemonize" ]', /'device_model_args' may not contain -daemonize/],
    ['device_model_args_hvm = [ "--incoming=tcp:0:4444" ]', /may not contain -incoming/],
    ['device_model_version = "qemu-xen-traditional"', /qemu-xen-traditional" is not supported/],
  ])('refuses %s', (text, message) => {
    expect(errorOf(text).message).toMatch(message);
  });
});

describe('display keys', () => {
  it('puts VNC on the domain socket by default, or on vnclisten:vncdisplay', () => {
    expect(build('vnc = 1').config).toMatchObject({ vnc: {}, vga: 'std' });
    expect(build('vnc = 1\nvnclisten = "0.0.0.0"\nvncdisplay = 3').config.vnc).toEqual({
      host: '0.0.0.0',
      display: 3,
    });
    expect(build('vnclisten = "127.0.0.1:2"').config.vnc).toEqual({ host: '127.0.0.1', display: 2 });
    expect(build('vnc = 1\nvnclisten = "::1"\nvga = "cirrus"').config).toMatchObject({
      vnc: { host: '::1' },
      vga: 'cirrus',
    });
    expect(build('vfb = [ "vnc=1,vnclisten=127.0.0.1,vncdisplay=1" ]').config.vnc).toEqual({
      host: '127.0.0.1',
      display: 1,
    });
    expect(build('vnc = 0\nsdl = 0').config.vnc).toBeUndefined();
  });

  it('says when a display key has no display to act on', () => {
    expect(build('vga = "stdvga"').warnings).toEqual([
      "dom.cfg:2:7: 'vga' has no effect without vnc (the domain has no display)",
    ]);
  });

  it.each([
    ['sdl = 1', /'sdl = 1' is not supported/],
    ['vnc = 1\nvncpasswd = "s3cret"', /'vncpasswd' is not supported/],
    ['vnc = 1\nvncdisplay = 1', /'vncdisplay' needs 'vnclisten'/],
    ['vnc = 1\nvnclisten = "0.0.0.0,password=on"', /bad vnclisten/],
    ['vnc = 1\nvga = "qxl"', /vga "qxl" is not supported/],
    ['vnc = "yes"', /'vnc' must be 0 or 1/],
  ])('refuses %s', (text, message) => {
    expect(errorOf(text).message).toMatch(message);
  });
});

describe('on_poweroff / on_reboot / on_crash', () => {
  it('maps what QEMU can do on its own', () => {
    expect(
      build('on_poweroff = "preserve"\non_reboot = "preserve"\non_crash = "preserve"').config,
    ).toMatchObject({
      onPoweroff: 'preserve',
      onReboot: 'preserve',
      onCrash: 'preserve',
    });
    const { config, warnings } = build('on_reboot = "rename-restart"\non_crash = "destroy"');
    expect(config).toMatchObject({ onReboot: 'restart', onCrash: 'destroy' });
    expect(warnings).toEqual([expect.stringMatching(/rename-restart" restarts the domain in place/)]);
  });

  it('on_crash = "restart" is what xl does with a crash it finds itself, and says a panic is not one', () => {
    const { config, warnings } = build('on_crash = "restart"');
    expect(config).toMatchObject({ onCrash: 'restart' });
    expect(warnings).toEqual([expect.stringMatching(/xl boots the domain afresh .* panic=N/)]);
  });

  it.each([
    [
      'on_poweroff = "restart"',
      /on_poweroff = "restart" is not supported: QEMU cannot restart a guest that powered off/,
    ],
    ['on_poweroff = "rename-restart"', /on_poweroff = "rename-restart" is not supported/],
    ['on_crash = "coredump-destroy"', /on_crash = "coredump-destroy" is not supported: .*use "destroy"/],
    ['on_reboot = "coredump-restart"', /on_reboot = "coredump-restart" is not supported/],
    ['on_reboot = "soft-reset"', /on_reboot = "soft-reset" is not supported/],
    [
      'on_reboot = "destroy"\non_poweroff = "preserve"',
      /on_reboot = "destroy" needs on_poweroff = "destroy"/,
    ],
    ['on_reboot = "preserve"', /on_reboot = "preserve" needs on_poweroff = "preserve"/],
  ])('refuses %s', (text, message) => {
    expect(errorOf(text).message).toMatch(message);
  });
});

describe('serial', () => {
  it('takes the list form', () => {
    expect(build("serial = [ 'pty' ]").config.serial).toBe('pty');
    expect(build("serial = [ 'none' ]").config.serial).toBe('none');
  });
});
