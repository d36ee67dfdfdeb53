/**
 * The domain config carried by a save file's xl header or a migration sender: untrusted JSON.
 * Every field is checked with the rules of the config parser and the result is rebuilt from
 * checked values only, so nothing from the stream reaches QEMU's command line unvalidated
 * (disk specs go through the disk-spec parser itself) and no binary named by the stream runs.
 */
import { parseDiskSpec, type DiskSpec } from '../config/disk-spec.js';
import {
  CONFIG_LIMITS,
  DEFAULT_QEMU,
  checkDomainName,
  UUID_PATTERN,
  type DomainConfig,
  type LifecycleAction,
  type VifSpec,
  type VncSpec,
} from '../config/domain-config.js';
import { parseVifSpec, XEN_SCRIPT_DIR } from '../config/vif-spec.js';
import { XlError } from '../errors.js';

/** How every refusal of checkSavedConfig begins (callers that reword it strip this). */
export const SAVED_CONFIG_UNUSABLE = 'the config stored in the stream is not usable: ';

function fail(what: string): never {
  throw new XlError('XL_RESTORE', `${SAVED_CONFIG_UNUSABLE}${what}`);
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
  if (disk.target !== undefined && typeof disk.target !== 'string') fail(`disk ${i}: bad target`);
  if (disk.cache !== undefined && disk.cache !== 'none' && disk.cache !== 'writeback')
    fail(`disk ${i}: bad cache (expected none or writeback)`);
  const flags = [
    disk.readOnly === true ? 'access=ro' : 'access=rw',
    disk.cdrom === true ? 'devtype=cdrom' : 'devtype=disk',
    ...(disk.discard === undefined ? [] : [disk.discard === true ? 'discard' : 'no-discard']),
    ...(disk.shared === true ? ['shared=yes'] : []),
    ...(disk.cache === undefined ? [] : [`cache=${disk.cache as string}`]),
  ];
  const spec = `format=${String(disk.format)}, vdev=${String(disk.vdev)}, ${flags.join(', ')}, target=${(disk.target as string | undefined) ?? ''}`;
  try {
    return parseDiskSpec(spec, { file: 'stream config', line: 1, column: 0 });
  } catch (err) {
    return fail(`disk ${i}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function checkVif(v: unknown, i: number): VifSpec {
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
  if (typeof vif.script === 'string' && !vif.script.startsWith(`${XEN_SCRIPT_DIR}/`))
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

export function checkSavedConfig(value: unknown): DomainConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail('not a JSON object (give a config file)');
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
  if (deviceModel !== undefined && !TRUSTED_QEMU.test(deviceModel)) {
    fail(
      `device model '${deviceModel}' is not a qemu-system binary from the system's bin directories; give a config file naming it`,
    );
  }
  if (c.deviceModelArgs !== undefined)
    fail('it carries device_model_args, which are not taken from a stream; give a config file naming them');
  if (
    c.maxvcpus !== undefined &&
    (!positive(c.maxvcpus, CONFIG_LIMITS.maxVcpus) || (c.maxvcpus as number) < (c.vcpus as number))
  )
    fail('bad maxvcpus');
  if (c.boot !== undefined && (typeof c.boot !== 'string' || !/^[cdn]{1,3}$/.test(c.boot))) fail('bad boot');
  const kernel = optionalString(c, 'kernel');
  const ramdisk = optionalString(c, 'ramdisk');
  const cmdline = optionalString(c, 'cmdline');
  const config: DomainConfig = {
    name: c.name,
    memory: c.memory as number,
    vcpus: c.vcpus as number,
    disks: (c.disks as unknown[]).map(checkDisk),
    vifs: (c.vifs as unknown[]).map(checkVif),
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
  return config;
}
