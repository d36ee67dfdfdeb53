/**
 * Can this host run a saved (or incoming) domain? Compares the stream's domain info with the
 * config the domain will be started from and with facts about this host's QEMU and disks.
 * `checkHostCanRun` is pure; `probeHost` gathers the facts (argument arrays, no shell).
 */
import { execa } from 'execa';
import type { DomainInfo } from '@xlkit/stream';
import { escapeOptValue } from '../qemu/argv.js';
import { qemuCapabilities } from '../qemu/capabilities.js';
import { DEFAULT_QEMU, type DomainConfig } from '../config/domain-config.js';
import { incomingAccel, knownAccel, type Accelerator } from './accel.js';
import { XlError } from '../errors.js';
import { availableMemoryMiB } from '../host/host-memory.js';
import { vifProblems } from './vif-taps.js';

export interface HostDisk {
  exists: boolean;
  format?: string;
  virtualSize?: number;
  /** Why it could not be inspected, when it exists but qemu-img failed. */
  error?: string;
}

export interface HostFacts {
  /** Machine types this host's QEMU knows. */
  machines: ReadonlySet<string>;
  /** What the machine xl passes (`pc`) resolves to on this host, e.g. "pc-i440fx-7.2". */
  defaultMachine: string | undefined;
  /** Accelerator the domain would get here, and why (domain/accel.ts). */
  accel: Accelerator;
  accelWhy?: string;
  /** What the host can give a new domain now (MemAvailable). */
  availableMemoryMiB: number;
  /** By vdev, for each configured disk with a target. */
  disks: Record<string, HostDisk>;
  /** What this host lacks for the bridged vifs (bridges, hotplug scripts), one line each. */
  network?: string[];
}

/** The machine name xl starts every domain with (see qemu/argv.ts). */
export const XL_MACHINE = 'pc';

/**
 * Who reads the problems: 'local' (xl restore: the operator of this host) gets every detail;
 * 'peer' (a migration sender) learns what does not match, never this host's facts (its free
 * memory, whether a path exists, a file's size).
 */
export type Audience = 'local' | 'peer';

/** Every reason this host and config cannot take the domain described by `info` (empty: it can). */
export function checkHostCanRun(
  info: DomainInfo,
  config: DomainConfig,
  host: HostFacts,
  audience: Audience = 'local',
): string[] {
  const local = audience === 'local';
  const problems: string[] = [];
  if (!host.machines.has(info.machine)) {
    problems.push(`this host's QEMU does not support machine type ${info.machine}`);
  } else if (host.defaultMachine !== info.machine) {
    problems.push(
      `machine type ${info.machine} differs from the one this host starts (${host.defaultMachine ?? 'unknown'})`,
    );
  }
  if (host.accel !== info.accel)
    problems.push(
      `accelerator ${info.accel} is needed, this host would use ${host.accel}${host.accelWhy ? ` (${host.accelWhy})` : ''}`,
    );
  if (config.memory !== info.memoryMiB)
    problems.push(`memory is ${info.memoryMiB} MiB in the stream but ${config.memory} MiB in the config`);
  if (info.memoryMiB > host.availableMemoryMiB)
    problems.push(
      local
        ? `memory ${info.memoryMiB} MiB exceeds the ${host.availableMemoryMiB} MiB this host has available`
        : `memory ${info.memoryMiB} MiB is more than this host can give now`,
    );
  if (config.vcpus !== info.vcpus)
    problems.push(`vcpus is ${info.vcpus} in the stream but ${config.vcpus} in the config`);
  const configured = new Map(config.disks.filter((d) => d.target !== undefined).map((d) => [d.vdev, d]));
  for (const disk of info.disks) {
    const spec = configured.get(disk.id);
    configured.delete(disk.id);
    if (spec === undefined) {
      problems.push(`disk ${disk.id} is missing from the config`);
      continue;
    }
    const here = host.disks[disk.id];
    if (!local && (here === undefined || !here.exists || here.error !== undefined)) {
      problems.push(`disk ${disk.id}: its image is not usable on this host`);
    } else if (here === undefined || !here.exists) {
      problems.push(`disk ${disk.id}: ${spec.target} does not exist`);
    } else if (here.error !== undefined) {
      problems.push(`disk ${disk.id}: cannot inspect ${spec.target}: ${here.error}`);
    } else {
      if (spec.format !== disk.format || (here.format !== undefined && here.format !== disk.format)) {
        problems.push(
          local
            ? `disk ${disk.id}: format is ${disk.format} in the stream but ${here.format ?? spec.format} here`
            : `disk ${disk.id}: its image here is not ${disk.format}`,
        );
      }
      if (here.virtualSize !== disk.virtualSize) {
        problems.push(
          local
            ? `disk ${disk.id}: size is ${disk.virtualSize} bytes in the stream but ${String(here.virtualSize)} bytes here (${spec.target})`
            : `disk ${disk.id}: its image here is not ${disk.virtualSize} bytes`,
        );
      }
    }
  }
  for (const vdev of configured.keys()) problems.push(`disk ${vdev} is in the config but not in the stream`);
  problems.push(...(host.network ?? []));
  return problems;
}

/**
 * qemu-img info on one image, opened through the file protocol only (--image-opts, commas in
 * the path doubled): never a protocol (`nbd://`, `json:{`) or an option, whatever the path holds.
 */
export function imageInfoArgs(target: string): string[] {
  return [
    'info',
    '--output=json',
    '-U',
    '--image-opts',
    `file.driver=file,file.filename=${escapeOptValue(target)}`,
  ];
}

async function inspectDisk(target: string): Promise<HostDisk> {
  const r = await execa('qemu-img', imageInfoArgs(target), {
    reject: false,
    timeout: 30_000,
  });
  if (r.failed) {
    const msg = String(r.stderr).trim().split('\n').at(-1) ?? '';
    return /No such file|not found/i.test(msg)
      ? { exists: false }
      : { exists: true, error: msg || `qemu-img exit status ${String(r.exitCode)}` };
  }
  try {
    const j = JSON.parse(String(r.stdout)) as Record<string, unknown>;
    const size = j['virtual-size'];
    return {
      exists: true,
      format: typeof j.format === 'string' ? j.format : undefined,
      virtualSize: typeof size === 'number' ? size : undefined,
    };
  } catch {
    return { exists: true, error: 'qemu-img printed no JSON' };
  }
}

/**
 * Gathers the host facts for starting `config`, which ran under `ran`, here: the machine
 * types (cached per QEMU binary in `cacheDir`, the state directory's cache), the accelerator
 * and every disk, all at once.
 */
export async function probeHost(
  config: DomainConfig,
  ran: Accelerator,
  cacheDir: string,
): Promise<HostFacts> {
  const qemu = config.deviceModel ?? DEFAULT_QEMU;
  const targets = config.disks.filter((d) => d.target !== undefined);
  const [{ machines, aliases }, accel, inspected] = await Promise.all([
    qemuCapabilities(qemu, cacheDir),
    incomingAccel(config, ran, { cacheDir }),
    Promise.all(targets.map((d) => inspectDisk(d.target as string))),
  ]);
  const disks: Record<string, HostDisk> = {};
  targets.forEach((d, i) => (disks[d.vdev] = inspected[i] as HostDisk));
  return {
    machines,
    defaultMachine: aliases.get(XL_MACHINE) ?? (machines.has(XL_MACHINE) ? XL_MACHINE : undefined),
    accel: accel.accel,
    accelWhy: accel.why,
    availableMemoryMiB: availableMemoryMiB(),
    disks,
    network: vifProblems(config),
  };
}

/** Throws XL_RESTORE listing every problem when this host cannot run the domain. */
export async function assertHostCanRun(
  info: DomainInfo,
  config: DomainConfig,
  what: string,
  cacheDir: string,
): Promise<void> {
  // An incoming migration's refusal goes back to the sender: no host details in it.
  const audience = what === 'restore' ? 'local' : 'peer';
  const ran = knownAccel(info.accel);
  const problems =
    ran === undefined
      ? [`the domain runs under an unknown accelerator '${info.accel.slice(0, 40)}'`]
      : checkHostCanRun(info, config, await probeHost(config, ran, cacheDir), audience);
  if (problems.length > 0) {
    throw new XlError(
      what === 'restore' ? 'XL_RESTORE' : 'XL_MIGRATION',
      `cannot ${what} domain '${config.name}' on this host: ${problems.join('; ')}`,
      { domain: config.name },
    );
  }
}
