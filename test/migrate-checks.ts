// Checks the same-host migration suites share: the source untouched after a failed migration,
// nothing left on the receiving host, a running migration's status read from another process.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect } from 'vitest';
import { isProcessAlive, type DomainView } from '@xlkit/xl';
import { ramcheckLog } from './helpers/index.js';
import { continuous, guestConfig, records, waitForBeatAbove, type XlHost } from './xl-rig.js';

/** The source is untouched: same QEMU, same name, running, heartbeat continuing without restart. */
export async function expectSourceIntact(
  a: XlHost,
  name: string,
  pid: number,
  beatBefore: number,
): Promise<void> {
  expect(isProcessAlive(pid)).toBe(true);
  const [view] = JSON.parse((await a.xl('list', '--json')).stdout) as DomainView[];
  expect(view).toMatchObject({ name, status: 'running', statusSource: 'qmp' });
  const now = (await waitForBeatAbove(a, name, beatBefore)).at(-1)!;
  const later = await waitForBeatAbove(a, name, now + 3);
  expect(continuous(later)).toBe(true);
}

/** Nothing left on the receiving host: no records, no domain dirs, no QEMU it ever started. */
export async function expectReceiverClean(b: XlHost): Promise<void> {
  const list = await b.xl('list', '--json');
  expect(list.exitCode, list.stderr).toBe(0);
  expect(JSON.parse(list.stdout)).toEqual([]);
  expect(records(b.stateDir)).toEqual([]);
  const dir = path.join(b.stateDir, 'domains');
  expect(existsSync(dir) ? readdirSync(dir) : []).toEqual([]);
  expect(b.watcher.liveQemus()).toEqual([]);
}

/** Polls `xl migrate-status --json` until the RAM phase has moved bytes; returns that status. */
export async function statusInRam(a: XlHost, name: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 20_000;
  let last = '';
  for (;;) {
    const r = await a.xl('migrate-status', '--json', name);
    last = r.exitCode === 0 ? r.stdout : r.stderr;
    if (r.exitCode === 0) {
      const s = JSON.parse(r.stdout) as Record<string, unknown>;
      if (s.phase === 'ram' && (s.bytes as number) > 0) return s;
    }
    if (Date.now() > deadline) throw new Error(`no RAM progress in xl migrate-status; last: ${last}`);
    await sleep(200);
  }
}

/**
 * The guest's RAM checker (`xlkit.ramcheck`) on `host` went on after the migration: at least
 * two more verified generations, and never a bad page (a lost or reordered page shows as one).
 */
export async function expectRamcheckClean(host: XlHost, name: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const log = ramcheckLog((await host.xl('console', name)).stdout);
    expect(log.fails).toEqual([]);
    expect(log.bad).toEqual([]);
    if (log.passes.length >= 2) return;
    if (Date.now() > deadline)
      throw new Error(`${name}: the RAM checker verified ${log.passes.length} generation(s) in 60 s`);
    await sleep(500);
  }
}

/** Boots NAME on `a` (extra config keys, e.g. the guest's workloads) and waits for its heartbeat. */
export async function bootSource(
  a: XlHost,
  name: string,
  extra: Record<string, string> = {},
): Promise<{ pid: number; beat: number }> {
  const created = await a.xl('create', await guestConfig(a.dir, name, extra));
  expect(created.exitCode, created.stderr).toBe(0);
  const beats = await waitForBeatAbove(a, name, 2);
  const [view] = JSON.parse((await a.xl('list', '--json', name)).stdout) as DomainView[];
  return { pid: view!.qemu!.pid, beat: beats.at(-1)! };
}
