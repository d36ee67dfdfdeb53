/**
 * The one schema of a DomainConfig read back as JSON: from domain.json (store/domain-record.ts),
 * from a save file's xl header and from a migration sender (ram/saved-config.ts). The value is
 * untrusted: every field is checked with the rules of the config parser and the config is
 * rebuilt from checked values only, so nothing unchecked reaches QEMU's command line or
 * qemu-img (disk and vif specs go through their parsers). Host paths must be absolute,
 * normalized and plain: no protocol prefix (`nbd:`, `json:`), no leading `-`, no control
 * characters. A peer (save file, migration sender) may name only a system QEMU and hotplug
 * scripts, and no device model args.
 *
 * New DomainConfig fields are added here, once, for all three sources.
 */
import path from 'node:path';
import { XlError } from '../errors.js';
import { parseDiskSpec, type DiskSpec } from './disk-spec.js';
import {
  CONFIG_LIMITS,
  DEFAULT_QEMU,
  checkDomainName,
  UUID_PATTERN,
  type DomainConfig,
  type LifecycleAction,
  type VifSpec,
  type VncSpec,
} from './domain-config.js';
import { parseVifSpec, XEN_SCRIPT_DIR } from './vif-spec.js';

/** A config the schema refuses; the message says which field and why. */
export class ConfigSchemaError extends XlError {
  override name = 'ConfigSchemaError';
  constructor(
    message: string,
    /** The value is not an object at all (so no config was there to check). */
    readonly notAnObject = false,
  ) {
    super('XL_CONFIG', message);
  }
}

export interface SchemaPolicy {
  /**
   * 'record': domain.json, written by this xl from a config file: any device model, device
   * model args and vif scripts the operator named. 'peer': a save file or a migration sender:
   * only a system QEMU, no device model args, only the system's hotplug scripts.
   */
  origin: 'record' | 'peer';
}

/** The longest host path accepted (PATH_MAX). */
export const HOST_PATH_MAX = 4096;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function fail(what: string): never {
  throw new ConfigSchemaError(what);
}

/**
 * Why `p` is not an absolute, normalized, plain host path (undefined when it is). Absolute
 * rules out a protocol prefix (`nbd://`, `json:{`) and a leading `-` at once.
 */
export function hostPathProblem(p: string): string | undefined {
  if (p.length === 0 || p.length > HOST_PATH_MAX) return `expected 1..${HOST_PATH_MAX} characters`;
  if (CONTROL.test(p)) return 'contains control characters';
  if (!p.startsWith('/')) return 'expected an absolute path (no protocol prefix, no option)';
  if (path.posix.normalize(p) !== p || (p.length > 1 && p.endsWith('/')))
    return 'expected a normalized path (no //, . or .. components, no trailing /)';
  return undefined;
}

function hostPath(v: unknown, what: string): string {
  if (typeof v !== 'string') fail(`bad ${what}: expected a string`);
  const problem = hostPathProblem(v);
  if (problem !== undefined) fail(`bad ${what} '${v}': ${problem}`);
  return v;
}

const positive = (v: unknown, max: number): boolean =>
  typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= max;
const VIF_MODELS = new Set(['virtio-net-pci', 'e1000', 'rtl8139']);
const ACTIONS: readonly LifecycleAction[] = ['destroy', 'restart', 'preserve'];
/** The QEMU binaries a stream may name: the default, or a qemu-system-* in the system's bin dirs. */
const TRUSTED_QEMU = /^(qemu-system-[a-z0-9_]+|\/usr(\/local)?\/bin\/qemu-system-[a-z0-9_]+)$/;

function optionalString(c: Record<string, unknown>, key: string): string | undefined {
  const v = c[key];
  if (v !== undefined && typeof v !== 'string') fail(`bad ${key}`);
  return v as string | undefined;
}

function checkDisk(d: unknown, i: number): DiskSpec {
  if (typeof d !== 'object' || d === null || Array.isArray(d)) fail(`disk ${i} is not an object`);
  const disk = d as Record<string, unknown>;
  for (const k of ['format', 'vdev'] as const)
    if (typeof disk[k] !== 'string' || /[,=\s]/.test(disk[k] as string)) fail(`disk ${i}: bad ${k}`);
  const target = disk.target === undefined ? undefined : hostPath(disk.target, `disk ${i} target`);
  if (disk.cache !== undefined && disk.cache !== 'none' && disk.cache !== 'writeback')
    fail(`disk ${i}: bad cache (expected none or writeback)`);
  const flags = [
    disk.readOnly === true ? 'access=ro' : 'access=rw',
    disk.cdrom === true ? 'devtype=cdrom' : 'devtype=disk',
    ...(disk.discard === undefined ? [] : [disk.discard === true ? 'discard' : 'no-discard']),
    ...(disk.shared === true ? ['shared=yes'] : []),
    ...(disk.cache === undefined ? [] : [`cache=${disk.cache as string}`]),
  ];
  const spec = `format=${String(disk.format)}, vdev=${String(disk.vdev)}, ${flags.join(', ')}, target=${target ?? ''}`;
  try {
    return parseDiskSpec(spec, { file: 'stream config', line: 1, column: 0 });
  } catch (err) {
    return fail(`disk ${i}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function checkVif(v: unknown, i: number, policy: SchemaPolicy): VifSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(`vif ${i} is not an object`);
  const vif = v as Record<string, unknown>;
  if (typeof vif.model !== 'string' || !VIF_MODELS.has(vif.model)) fail(`vif ${i}: bad model`);
  // Configs from before bridged networking have no type: they were all user-mode.
  if (vif.type !== undefined && vif.type !== 'tap' && vif.type !== 'user') fail(`vif ${i}: bad type`);
  const fields: string[] = [`model=${vif.model as string}`, `type=${vif.type === 'tap' ? 'vif' : 'user'}`];
  for (const key of ['mac', 'bridge', 'vifname', 'script'] as const) {
    const value = vif[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || /[,=\s]/.test(value)) fail(`vif ${i}: bad ${key}`);
    fields.push(`${key}=${value}`);
  }
  // A stream never chooses a program to run as this user: only the system's hotplug scripts.
  if (
    policy.origin === 'peer' &&
    typeof vif.script === 'string' &&
    !vif.script.startsWith(`${XEN_SCRIPT_DIR}/`)
  )
    fail(`vif ${i}: script '${vif.script}' is not in ${XEN_SCRIPT_DIR}; give a config file naming it`);
  let parsed: VifSpec;
  try {
    parsed = parseVifSpec(fields.join(','), { file: 'stream config', line: 1, column: 0 });
  } catch (err) {
    return fail(`vif ${i}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (parsed.type !== (vif.type ?? 'user'))
    fail(`vif ${i}: type ${String(vif.type)} does not match its fields`);
  return parsed;
}

function oneOf<T extends string>(c: Record<string, unknown>, key: string, allowed: readonly T[]): T {
  const v = c[key];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) fail(`bad ${key}`);
  return v as T;
}

const VNC_HOST = /^[A-Za-z0-9.:-]{1,253}$|^\[[0-9A-Fa-f:.]{2,45}\]$/;

function checkVnc(v: unknown): VncSpec {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail('vnc is not an object');
  const o = v as Record<string, unknown>;
  if (o.host !== undefined && (typeof o.host !== 'string' || !VNC_HOST.test(o.host))) fail('bad vnc host');
  if (
    o.display !== undefined &&
    !(Number.isSafeInteger(o.display) && (o.display as number) >= 0 && (o.display as number) <= 99)
  )
    fail('bad vnc display');
  return {
    ...(o.host === undefined ? {} : { host: o.host as string }),
    ...(o.display === undefined ? {} : { display: o.display as number }),
  };
}

/** Checks `value` against the schema and returns the config rebuilt from checked fields only. */
export function parseDomainConfig(value: unknown, policy: SchemaPolicy): DomainConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ConfigSchemaError('not a JSON object', true);
  const c = value as Record<string, unknown>;
  if (typeof c.name !== 'string') fail('no name');
  const bad = checkDomainName(c.name);
  if (bad !== undefined) fail(bad);
  if (c.uuid !== undefined && (typeof c.uuid !== 'string' || !UUID_PATTERN.test(c.uuid))) fail('bad uuid');
  if (!positive(c.memory, CONFIG_LIMITS.maxMemoryMiB)) fail('bad memory');
  if (!positive(c.vcpus, CONFIG_LIMITS.maxVcpus)) fail('bad vcpus');
  if (!Array.isArray(c.disks) || c.disks.length > CONFIG_LIMITS.maxDisks) fail('bad disks');
  if (!Array.isArray(c.vifs) || c.vifs.length > CONFIG_LIMITS.maxVifs) fail('bad vifs');
  const deviceModel = optionalString(c, 'deviceModel');
  if (deviceModel !== undefined && policy.origin === 'record') {
    if (deviceModel.includes('/')) hostPath(deviceModel, 'device model');
    else if (!/^[A-Za-z0-9_.+][A-Za-z0-9_.+-]{0,63}$/.test(deviceModel)) fail('bad device model');
  } else if (deviceModel !== undefined && !TRUSTED_QEMU.test(deviceModel)) {
    fail(
      `device model '${deviceModel}' is not a qemu-system binary from the system's bin directories; give a config file naming it`,
    );
  }
  const args = c.deviceModelArgs;
  if (args !== undefined && policy.origin === 'record') {
    if (
      !Array.isArray(args) ||
      args.length > 256 ||
      !args.every((w) => typeof w === 'string' && !CONTROL.test(w))
    )
      fail('bad deviceModelArgs');
  } else if (args !== undefined)
    fail('it carries device_model_args, which are not taken from a stream; give a config file naming them');
  if (
    c.maxvcpus !== undefined &&
    (!positive(c.maxvcpus, CONFIG_LIMITS.maxVcpus) || (c.maxvcpus as number) < (c.vcpus as number))
  )
    fail('bad maxvcpus');
  if (c.boot !== undefined && (typeof c.boot !== 'string' || !/^[cdn]{1,3}$/.test(c.boot))) fail('bad boot');
  const kernel = c.kernel === undefined ? undefined : hostPath(c.kernel, 'kernel');
  const ramdisk = c.ramdisk === undefined ? undefined : hostPath(c.ramdisk, 'ramdisk');
  if (ramdisk !== undefined && kernel === undefined) fail('a ramdisk needs a kernel');
  const cmdline = optionalString(c, 'cmdline');
  if (cmdline !== undefined && (cmdline.length > 4096 || CONTROL.test(cmdline)))
    fail('bad cmdline: expected at most 4096 characters, no control characters');
  const config: DomainConfig = {
    name: c.name,
    memory: c.memory as number,
    vcpus: c.vcpus as number,
    disks: (c.disks as unknown[]).map(checkDisk),
    vifs: (c.vifs as unknown[]).map((v, i) => checkVif(v, i, policy)),
    serial: oneOf(c, 'serial', ['pty', 'none'] as const),
    onPoweroff: oneOf(c, 'onPoweroff', ACTIONS),
    onReboot: oneOf(c, 'onReboot', ACTIONS),
    onCrash: oneOf(c, 'onCrash', ACTIONS),
    accel: oneOf(c, 'accel', ['tcg', 'kvm', 'auto'] as const),
    memoryBacking: oneOf(c, 'memoryBacking', ['anonymous', 'shared'] as const),
  };
  if (c.uuid !== undefined) config.uuid = c.uuid as string;
  if (c.maxvcpus !== undefined) config.maxvcpus = c.maxvcpus as number;
  if (c.boot !== undefined) config.boot = c.boot as string;
  if (c.vnc !== undefined) config.vnc = checkVnc(c.vnc);
  if (c.vga !== undefined) config.vga = oneOf(c, 'vga', ['std', 'cirrus'] as const);
  if (kernel !== undefined) config.kernel = kernel;
  if (ramdisk !== undefined) config.ramdisk = ramdisk;
  if (cmdline !== undefined) config.cmdline = cmdline;
  if (deviceModel !== undefined && deviceModel !== DEFAULT_QEMU) config.deviceModel = deviceModel;
  if (Array.isArray(args)) config.deviceModelArgs = [...(args as string[])];
  return config;
}
