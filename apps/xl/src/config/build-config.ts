/** Meaning of xl.cfg entries: validates them into a DomainConfig, with positioned errors. */
import path from 'node:path';
import { statSync } from 'node:fs';
import { ConfigError, type SourcePosition } from '../errors.js';
import type { CfgEntry } from './cfg-syntax.js';
import { fmt, Reader } from './cfg-reader.js';
import { parseDiskSpec, type DiskSpec } from './disk-spec.js';
import { applyDisplayKeys, DISPLAY_KEYS } from './display-keys.js';
import { LIFECYCLE_KEYS, readLifecycle } from './lifecycle-keys.js';
import { applyMachineKeys, MACHINE_KEYS } from './machine-keys.js';
import { CONFIG_LIMITS, UUID_PATTERN, checkDomainName, type DomainConfig } from './domain-config.js';
import { parseVifSpec } from './vif-spec.js';

export interface BuildOptions {
  /** Checks that kernel, ramdisk and disk files exist (default: statSync). */
  fileExists?: (file: string) => boolean;
  /** Relative host paths resolve against this (default: process.cwd()). */
  cwd?: string;
}

export interface BuiltConfig {
  config: DomainConfig;
  warnings: string[];
}

function defaultExists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

const KNOWN = new Set([
  'name',
  'uuid',
  'memory',
  'vcpus',
  'kernel',
  'ramdisk',
  'extra',
  'cmdline',
  'root',
  'disk',
  'vif',
  'serial',
  'device_model_override',
  'accel',
  'memory_backing',
  ...LIFECYCLE_KEYS,
  ...MACHINE_KEYS,
  ...DISPLAY_KEYS,
]);

/** Builds a DomainConfig from merged entries (see mergeEntries). Throws ConfigError. */
export function buildConfig(entries: Map<string, CfgEntry>, options: BuildOptions = {}): BuiltConfig {
  const exists = options.fileExists ?? defaultExists;
  const cwd = options.cwd ?? process.cwd();
  const warnings: string[] = [];
  const r = new Reader(entries);
  for (const e of entries.values()) {
    if (!KNOWN.has(e.key)) warnings.push(`${fmt(e.keyPos)}: '${e.key}' is not supported here and is ignored`);
  }
  const hostFile = (key: string, v: { value: string; pos: SourcePosition }): string => {
    const file = path.resolve(cwd, v.value);
    if (!exists(file)) throw new ConfigError(v.pos, `${key} '${v.value}' does not exist`);
    return file;
  };

  const name = r.string('name');
  if (!name) {
    const first = entries.values().next().value;
    throw new ConfigError(
      first?.keyPos ?? { file: 'config', line: 1, column: 1 },
      `no 'name' set: every domain needs a name`,
    );
  }
  const nameProblem = checkDomainName(name.value);
  if (nameProblem) throw new ConfigError(name.pos, nameProblem);

  const config: DomainConfig = {
    name: name.value,
    memory: r.number('memory', 16, CONFIG_LIMITS.maxMemoryMiB, ' (MiB)') ?? 128,
    vcpus: r.number('vcpus', 1, CONFIG_LIMITS.maxVcpus) ?? 1,
    disks: [],
    vifs: [],
    serial: 'pty',
    ...readLifecycle(r, warnings),
    accel: r.choice('accel', ['tcg', 'kvm', 'auto'] as const) ?? 'auto',
    memoryBacking: r.choice('memory_backing', ['anonymous', 'shared'] as const) ?? 'anonymous',
  };

  const uuid = r.string('uuid');
  if (uuid) {
    if (!UUID_PATTERN.test(uuid.value))
      throw new ConfigError(
        uuid.pos,
        `bad uuid '${uuid.value}': expected xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`,
      );
    config.uuid = uuid.value.toLowerCase();
  }
  const kernel = r.string('kernel');
  if (kernel) config.kernel = hostFile('kernel', kernel);
  const ramdisk = r.string('ramdisk');
  if (ramdisk) {
    if (!kernel) throw new ConfigError(ramdisk.pos, `'ramdisk' needs a 'kernel'`);
    config.ramdisk = hostFile('ramdisk', ramdisk);
  }
  const cmdline = r.string('cmdline');
  const root = r.string('root');
  const extra = r.string('extra');
  const line = cmdline
    ? cmdline.value
    : [root ? `root=${root.value}` : '', extra?.value ?? ''].filter((s) => s !== '').join(' ');
  if (line !== '') {
    if (!kernel)
      throw new ConfigError((cmdline ?? extra ?? root)!.pos, `a kernel command line needs a 'kernel'`);
    config.cmdline = line;
  }

  const serials = r.strings('serial');
  if (serials.length > 1) throw new ConfigError(serials[1]!.pos, `only one serial port is supported`);
  const serial = serials[0];
  if (serial) {
    if (serial.value !== 'pty' && serial.value !== 'none')
      throw new ConfigError(serial.pos, `bad serial '${serial.value}': expected 'pty' or 'none'`);
    config.serial = serial.value;
  }

  const dm = r.string('device_model_override');
  if (dm) config.deviceModel = dm.value.includes('/') ? hostFile('device_model_override', dm) : dm.value;

  const disks = r.strings('disk');
  if (disks.length > CONFIG_LIMITS.maxDisks)
    throw new ConfigError(disks[CONFIG_LIMITS.maxDisks]!.pos, `more than ${CONFIG_LIMITS.maxDisks} disks`);
  const seen = new Map<string, DiskSpec>();
  for (const d of disks) {
    const disk = parseDiskSpec(d.value, d.pos, warnings);
    const slot = `${disk.bus}:${disk.index}`;
    const clash = seen.get(slot);
    if (clash) throw new ConfigError(d.pos, `disk ${disk.vdev} uses the same device slot as ${clash.vdev}`);
    seen.set(slot, disk);
    if (disk.target !== undefined) disk.target = hostFile('disk', { value: disk.target, pos: d.pos });
    config.disks.push(disk);
  }
  applyMachineKeys(r, config, warnings);
  applyDisplayKeys(r, config, warnings);

  const vifs = r.strings('vif');
  if (vifs.length > CONFIG_LIMITS.maxVifs)
    throw new ConfigError(vifs[CONFIG_LIMITS.maxVifs]!.pos, `more than ${CONFIG_LIMITS.maxVifs} vifs`);
  for (const v of vifs) config.vifs.push(parseVifSpec(v.value, v.pos, warnings));
  return { config, warnings };
}
