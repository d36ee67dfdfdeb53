/**
 * Can this QEMU binary take over a running domain (`xl upgrade`)? It must run, know the exact
 * machine type the domain runs on (`pc-i440fx-7.2`, say: a newer QEMU's `pc` is a newer
 * machine, whose migration stream the old one does not produce) and every device and object
 * type the domain's command line uses. Asked before anything starts, so a refusal changes
 * nothing. The help texts are read with argument arrays, never a shell.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { execa } from 'execa';
import type { DomainConfig } from '../config/domain-config.js';
import { XlError } from '../errors.js';
import { qemuCapabilities, type QemuVersion } from './capabilities.js';
import { qemuEnv } from './env.js';

/** The device (`-device`) and object (`-object`) types xl's argv gives `config` (qemu/argv.ts). */
export function typesUsed(config: DomainConfig): { devices: string[]; objects: string[] } {
  const devices = new Set<string>();
  for (const d of config.disks) {
    devices.add(d.bus === 'virtio' ? 'virtio-blk-pci' : d.cdrom ? 'ide-cd' : 'ide-hd');
  }
  for (const v of config.vifs) devices.add(v.model);
  return {
    devices: [...devices].sort(),
    objects: config.memoryBacking === 'shared' ? ['memory-backend-file'] : [],
  };
}

/** Names from `-device help` (`name "virtio-blk-pci", bus PCI, ...`) and `-object help` (indented names). */
export function parseTypeHelp(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const quoted = /^name "([^"]+)"/.exec(line);
    if (quoted) names.add(quoted[1]!);
    else if (/^ {2}[a-z0-9][a-z0-9._-]*$/.test(line)) names.add(line.trim());
  }
  return names;
}

export interface BinarySupport {
  version: QemuVersion | undefined;
}

/** QEMU's last word (one line of a refusal, not its whole stderr). */
function lastLine(text: string): string | undefined {
  return text.trim().split('\n').at(-1)?.trim() || undefined;
}

function refuse(binary: string, why: string): XlError {
  return new XlError('XL_UPGRADE_REFUSED', `${binary} cannot take the domain over: ${why}`);
}

async function help(binary: string, kind: '-device' | '-object'): Promise<Set<string>> {
  const r = await execa(binary, [kind, 'help'], {
    reject: false,
    timeout: 30_000,
    env: qemuEnv(process.env, binary),
  });
  if (r.failed)
    throw refuse(binary, `'${kind} help' failed: ${lastLine(String(r.stderr)) ?? r.shortMessage}`);
  return parseTypeHelp(String(r.stdout));
}

/** Throws XL_UPGRADE_REFUSED (one line saying what is missing) unless `binary` can run `config` as `machine`. */
export async function assertBinarySupports(
  binary: string,
  machine: string,
  config: DomainConfig,
  cacheDir?: string,
): Promise<BinarySupport> {
  try {
    await access(binary, constants.X_OK);
  } catch {
    throw refuse(binary, 'no executable file there');
  }
  const caps = await qemuCapabilities(binary, cacheDir).catch((err: unknown) => {
    throw refuse(binary, err instanceof Error ? err.message : String(err));
  });
  if (!caps.machines.has(machine)) throw refuse(binary, `it has no machine type ${machine}`);
  const used = typesUsed(config);
  const [devices, objects] = await Promise.all([
    used.devices.length > 0 ? help(binary, '-device') : new Set<string>(),
    used.objects.length > 0 ? help(binary, '-object') : new Set<string>(),
  ]);
  const missing = [
    ...used.devices.filter((d) => !devices.has(d)).map((d) => `device ${d}`),
    ...used.objects.filter((o) => !objects.has(o)).map((o) => `object ${o}`),
  ];
  if (missing.length > 0) throw refuse(binary, `it lacks ${missing.join(', ')}`);
  return { version: caps.version };
}
