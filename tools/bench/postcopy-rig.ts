/** What the post-copy bench's contenders share: the guest, its boot, what a run reports. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { xl, waitForLine } from './xl-cli.js';

export const REPS = Math.max(1, Number(process.env.XLKIT_BENCH_REPS ?? 2));
export const NAME = 'pcbench';
export const MEMORY_MIB = 512;
export const WORKLOAD = 'xlkit.fill=128 xlkit.dirty=16 xlkit.dirtymb=32';
export const BANDWIDTH_MIB = 8;
export const BANDWIDTH = BANDWIDTH_MIB * 1024 * 1024;
/** xl's sender follows QEMU with followMigration's default poll; the raw path does the same. */
export const POLL_MS = 500;
export const TIMEOUT_MS = 240_000;

export interface Domain {
  id: number;
  qemu: { pid: number; argv: string[]; binary: string };
}

export function lastId(stateDir: string): number {
  return Number(readFileSync(path.join(stateDir, 'next-id'), 'utf8').trim()) - 1;
}

export function domainDir(stateDir: string, id: number): string {
  return path.join(stateDir, 'domains', String(id));
}

export function readDomain(stateDir: string, id: number): Domain {
  return JSON.parse(readFileSync(path.join(domainDir(stateDir, id), 'domain.json'), 'utf8')) as Domain;
}

export interface Result {
  seconds: number;
  /** The goal's pause figure: STOP to the destination running (see the header for each side). */
  pauseMs: number;
  /** QEMU's downtime figure (the source's stop until it sent the device state), when known. */
  downtimeMs?: number;
  /** raw: STOP to the destination's RESUME event. */
  resumeEventMs?: number;
  /** raw: the destination's postcopy-blocktime (ms). */
  blocktimeMs?: number;
  vcpuBlocktimeMs?: number[];
  /** raw: the source's ram.postcopy-requests / postcopy-bytes / precopy-bytes. */
  requests?: number;
  postcopyBytes?: number;
  precopyBytes?: number;
  /** The pass at which post-copy started (dirty-sync-count). */
  switchPass?: number;
  note?: string;
}

export async function boot(stateDir: string, cfg: string): Promise<Domain> {
  await xl(stateDir, 'create', cfg);
  const id = lastId(stateDir);
  const log = path.join(domainDir(stateDir, id), 'console.log');
  await waitForLine(log, /xlkit-fill done/, 5 * 60_000);
  await waitForLine(log, /xlkit-dirty start/, 5 * 60_000);
  await sleep(1_000);
  return readDomain(stateDir, id);
}
