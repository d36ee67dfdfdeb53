/** The domain config stored in a save file's xl header: untrusted JSON, checked before use. */
import { CONFIG_LIMITS, checkDomainName, UUID_PATTERN, type DomainConfig } from '../config/domain-config.js';
import { XlError } from '../errors.js';

function fail(what: string): never {
  throw new XlError('XL_RESTORE', `the config stored in the file is not usable: ${what}`);
}

const positive = (v: unknown, max: number): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 1 && v <= max;

export function checkSavedConfig(value: unknown): DomainConfig {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('not a JSON object (give a config file)');
  const c = value as Record<string, unknown>;
  if (typeof c.name !== 'string') fail('no name');
  const bad = checkDomainName(c.name);
  if (bad !== undefined) fail(bad);
  if (c.uuid !== undefined && (typeof c.uuid !== 'string' || !UUID_PATTERN.test(c.uuid))) fail('bad uuid');
  if (!positive(c.memory, CONFIG_LIMITS.maxMemoryMiB)) fail('bad memory');
  if (!positive(c.vcpus, CONFIG_LIMITS.maxVcpus)) fail('bad vcpus');
  if (!Array.isArray(c.disks) || c.disks.length > CONFIG_LIMITS.maxDisks) fail('bad disks');
  for (const d of c.disks as unknown[]) {
    const disk = d as Record<string, unknown> | null;
    if (typeof disk !== 'object' || disk === null || typeof disk.vdev !== 'string' || (disk.target !== undefined && typeof disk.target !== 'string')) fail('bad disk entry');
  }
  if (!Array.isArray(c.vifs) || c.vifs.length > CONFIG_LIMITS.maxVifs) fail('bad vifs');
  for (const k of ['kernel', 'ramdisk', 'cmdline', 'deviceModel'] as const) {
    if (c[k] !== undefined && typeof c[k] !== 'string') fail(`bad ${k}`);
  }
  if (c.serial !== 'pty' && c.serial !== 'none') fail('bad serial');
  if (c.accel !== 'tcg' && c.accel !== 'kvm' && c.accel !== 'auto') fail('bad accel');
  if (c.memoryBacking !== 'anonymous' && c.memoryBacking !== 'shared') fail('bad memoryBacking');
  return value as DomainConfig;
}
