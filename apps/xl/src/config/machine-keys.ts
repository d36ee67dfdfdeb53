/**
 * xl.cfg keys about the virtual machine rather than its devices: `type`/`builder`, `bootloader`,
 * `boot`, `maxmem`, `maxvcpus`, `device_model_args`, and the HVM feature switches whose xl
 * default is what QEMU's pc machine does anyway. Each is mapped to what QEMU does, refused with
 * the key's name, or (for a switch QEMU cannot turn) warned about; none is silently dropped.
 */
import { ConfigError } from '../errors.js';
import { fmt, type Reader } from './cfg-reader.js';
import { CONFIG_LIMITS, type DomainConfig } from './domain-config.js';

/** HVM switches QEMU's pc machine always has on (1) or off (0): any other value is warned about. */
const FIXED_SWITCHES: Record<string, { value: boolean; why: string }> = {
  acpi: { value: true, why: "QEMU's pc machine always has ACPI" },
  apic: { value: true, why: "QEMU's pc machine always has an APIC" },
  pae: { value: true, why: 'QEMU CPUs always have PAE' },
  hap: { value: true, why: 'QEMU decides paging itself' },
  nx: { value: true, why: 'QEMU decides CPU features itself' },
  hpet: { value: true, why: "QEMU's pc machine always has an HPET" },
  viridian: { value: false, why: 'QEMU gets no Hyper-V enlightenments from xl' },
  nestedhvm: { value: false, why: 'nested virtualization is not offered' },
  localtime: { value: false, why: 'the guest clock is UTC' },
  xen_platform_pci: { value: true, why: 'there is no Xen platform device under QEMU' },
};

export const MACHINE_KEYS = new Set([
  'type',
  'builder',
  'bootloader',
  'boot',
  'maxmem',
  'maxvcpus',
  'device_model_args',
  'device_model_args_hvm',
  'device_model_args_pv',
  'device_model_version',
  ...Object.keys(FIXED_SWITCHES),
]);

/** Options xl itself sets or depends on: a device_model_args word may not repeat them. */
const XL_OWNED_OPTIONS = new Set([
  '-name',
  '-uuid',
  '-machine',
  '-M',
  '-accel',
  '-enable-kvm',
  '-m',
  '-smp',
  '-nodefaults',
  '-no-user-config',
  '-qmp',
  '-qmp-pretty',
  '-mon',
  '-monitor',
  '-pidfile',
  '-D',
  '-daemonize',
  '-S',
  '-incoming',
  '-action',
  '-no-shutdown',
  '-no-reboot',
  '-runas',
  '-chroot',
]);
const MAX_DM_ARGS = 64;
const MAX_DM_ARG_LENGTH = 4096;

type GuestType = 'hvm' | 'pv' | 'pvh';

function guestType(r: Reader): { type: GuestType; key: string } | undefined {
  const type = r.choice('type', ['hvm', 'pv', 'pvh'] as const);
  const builder = r.choice('builder', ['hvm', 'generate'] as const);
  const fromBuilder = builder === undefined ? undefined : builder === 'hvm' ? 'hvm' : 'pv';
  if (type !== undefined && fromBuilder !== undefined && type !== fromBuilder) {
    throw new ConfigError(
      r.get('builder')!.pos,
      `'builder' = "${builder}" contradicts 'type' = "${type}" (drop builder: it is deprecated)`,
    );
  }
  if (type !== undefined) return { type, key: 'type' };
  return fromBuilder === undefined ? undefined : { type: fromBuilder, key: 'builder' };
}

function deviceModelArgs(r: Reader): string[] {
  const out: string[] = [];
  for (const key of ['device_model_args', 'device_model_args_hvm', 'device_model_args_pv']) {
    for (const arg of r.strings(key)) {
      if (out.length === MAX_DM_ARGS)
        throw new ConfigError(arg.pos, `more than ${MAX_DM_ARGS} device_model_args`);
      if (arg.value.length > MAX_DM_ARG_LENGTH || arg.value.includes('\0'))
        throw new ConfigError(arg.pos, `'${key}' item is longer than ${MAX_DM_ARG_LENGTH} characters`);
      const option = arg.value.replace(/^--/, '-').split('=', 1)[0] as string;
      if (XL_OWNED_OPTIONS.has(option))
        throw new ConfigError(arg.pos, `'${key}' may not contain ${option}: xl sets it itself`);
      out.push(arg.value);
    }
  }
  return out;
}

/** Reads the machine keys into `config` (kernel and vcpus must be set already). */
export function applyMachineKeys(r: Reader, config: DomainConfig, warnings: string[]): void {
  const gt = guestType(r);
  const bootloader = r.string('bootloader');
  if (bootloader) {
    throw new ConfigError(
      bootloader.pos,
      `'bootloader' = "${bootloader.value}" is not supported: give 'kernel' (and 'ramdisk'), or boot the disk with type = "hvm"`,
    );
  }
  if (gt !== undefined && gt.type !== 'hvm') {
    if (config.kernel === undefined) {
      throw new ConfigError(
        r.get(gt.key)!.pos,
        `${gt.key} = "${gt.type}" needs a 'kernel': xlkit boots ${gt.type.toUpperCase()} guests' kernels directly in a QEMU machine`,
      );
    }
    warnings.push(
      `${fmt(r.get(gt.key)!.pos)}: ${gt.key} = "${gt.type}" runs as a QEMU machine booting 'kernel' directly; the guest needs virtio drivers (xvdX disks are virtio-blk)`,
    );
  }
  const dmv = r.choice('device_model_version', ['qemu-xen', 'qemu-xen-traditional'] as const);
  if (dmv === 'qemu-xen-traditional')
    throw new ConfigError(
      r.get('device_model_version')!.pos,
      `device_model_version "qemu-xen-traditional" is not supported: the device model is upstream QEMU`,
    );

  const boot = r.string('boot');
  if (boot) {
    if (!/^[cdn]{1,3}$/.test(boot.value) || new Set(boot.value).size !== boot.value.length)
      throw new ConfigError(
        boot.pos,
        `bad boot '${boot.value}': expected an order of c (disk), d (cdrom), n (network), e.g. "cd"`,
      );
    if (config.kernel !== undefined)
      warnings.push(`${fmt(boot.pos)}: 'boot' has no effect: the domain boots 'kernel' directly`);
    else config.boot = boot.value;
  }

  const maxmem = r.number('maxmem', 16, CONFIG_LIMITS.maxMemoryMiB, ' (MiB)');
  if (maxmem !== undefined && maxmem !== config.memory) {
    throw new ConfigError(
      r.get('maxmem')!.pos,
      `'maxmem' (${maxmem} MiB) differs from 'memory' (${config.memory} MiB): memory ballooning is not supported; set memory = maxmem or drop maxmem`,
    );
  }
  const maxvcpus = r.number('maxvcpus', 1, CONFIG_LIMITS.maxVcpus);
  if (maxvcpus !== undefined) {
    if (maxvcpus < config.vcpus)
      throw new ConfigError(
        r.get('maxvcpus')!.pos,
        `'maxvcpus' (${maxvcpus}) is below 'vcpus' (${config.vcpus})`,
      );
    if (maxvcpus > config.vcpus) config.maxvcpus = maxvcpus;
  }

  const args = deviceModelArgs(r);
  if (args.length > 0) config.deviceModelArgs = args;

  for (const [key, fixed] of Object.entries(FIXED_SWITCHES)) {
    const v = r.flag(key);
    if (v !== undefined && v.value !== fixed.value)
      warnings.push(`${fmt(v.pos)}: '${key} = ${v.value ? 1 : 0}' is ignored: ${fixed.why}`);
  }
}
