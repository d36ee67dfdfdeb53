import { accessSync, constants, mkdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './paths.js';

export type Accel = 'tcg' | 'kvm';

interface ProbeRecord {
  kvmBoots: boolean;
  kernel: string;
  checkedAt: string;
}

/** Where the result of the one-time KVM probe is kept. */
export const accelProbeFile = path.join(repoRoot, '.cache', 'accel-probe.json');

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function readProbe(kernelName: string): ProbeRecord | undefined {
  try {
    const record = JSON.parse(readFileSync(accelProbeFile, 'utf8')) as ProbeRecord;
    return record.kernel === kernelName ? record : undefined;
  } catch {
    return undefined;
  }
}

export function writeProbe(kvmBoots: boolean, kernelName: string): void {
  mkdirSync(path.dirname(accelProbeFile), { recursive: true });
  const record: ProbeRecord = { kvmBoots, kernel: kernelName, checkedAt: new Date().toISOString() };
  const tmp = `${accelProbeFile}.${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(record)}\n`);
  renameSync(tmp, accelProbeFile);
}

/**
 * The accelerator for test guests: `XL_ACCEL` (tcg|kvm) when set; otherwise KVM only if
 * /dev/kvm is usable and a probe booted the guest to its first heartbeat under KVM (the
 * result is cached per guest build); TCG in every other case.
 */
export async function accel(probe: () => Promise<boolean>, kernelName: string): Promise<Accel> {
  const forced = process.env['XL_ACCEL'];
  if (forced === 'kvm' || forced === 'tcg') return forced;
  if (forced !== undefined && forced !== '') {
    throw new Error(`XL_ACCEL must be "tcg" or "kvm", not ${JSON.stringify(forced)}`);
  }
  if (!kvmUsable()) return 'tcg';
  const cached = readProbe(kernelName);
  if (cached) return cached.kvmBoots ? 'kvm' : 'tcg';
  const kvmBoots = await probe().catch(() => false);
  writeProbe(kvmBoots, kernelName);
  return kvmBoots ? 'kvm' : 'tcg';
}
