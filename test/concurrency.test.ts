// End to end: xl under concurrency. Four domains saved, restored and migrated at once; and
// `xl destroy` racing a running `xl save` and a running `xl migrate` of the same domain: each
// race ends in a defined outcome (the domain gone everywhere, the racing command failed with
// one line), nothing deadlocks, and no file is ever left under the save's final name unless it
// is a complete save.
import { describe, expect, it } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { isProcessAlive, readProcStat, type DomainView } from '@xlkit/xl';
import { cleanupAfterEach } from './helpers/index.js';
import { bootSource, expectReceiverClean, statusInRam } from './migrate-checks.js';
import {
  consoleBeats,
  continuous,
  guestConfig,
  records,
  sameHostReceiver,
  startMigrate,
  XL,
  xlHost,
  type XlHost,
} from './xl-rig.js';

cleanupAfterEach();

const names = ['cc1', 'cc2', 'cc3', 'cc4'];

async function list(h: XlHost): Promise<DomainView[]> {
  const r = await h.xl('list', '--json');
  expect(r.exitCode, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as DomainView[];
}

const xlLines = (stderr: string) =>
  stderr.split('\n').filter((l) => l.startsWith('xl: ') && !l.startsWith('xl: warning'));

/**
 * CPU time a guest's QEMU may spend waiting for a heartbeat before the wait gives up. The test
 * guest reaches its tenth beat on ~6 CPU-seconds of TCG; 20 times that is a guest that is
 * stuck, whatever the load.
 */
const GUEST_CPU_BUDGET_S = 120;

/**
 * A heartbeat above `after` from `dom`, however loaded the machine. Four TCG guests share two
 * cores here with whatever else runs, so wall time says nothing about a guest: the wait ends
 * only when its QEMU is gone or has burnt GUEST_CPU_BUDGET_S without the beat (and, above
 * all, at the test's own timeout).
 */
async function beatAbove(h: XlHost, dom: string, after: number): Promise<number[]> {
  const pid = records(h.stateDir).find((r) => r.name === dom)?.qemu?.pid;
  if (pid === undefined) throw new Error(`${dom} has no QEMU on ${h.stateDir}`);
  const cpu = () => readProcStat(pid)?.cpuSeconds;
  const start = cpu();
  for (;;) {
    const beats = await consoleBeats(h, dom);
    if ((beats.at(-1) ?? -1) > after) return beats;
    const now = cpu();
    if (start === undefined || now === undefined) throw new Error(`${dom}'s QEMU (pid ${pid}) is gone`);
    if (now - start > GUEST_CPU_BUDGET_S)
      throw new Error(
        `no heartbeat above ${after} from ${dom} in ${GUEST_CPU_BUDGET_S} CPU-seconds; saw ${beats.slice(-5).join(',')}`,
      );
    await sleep(500);
  }
}

describe('xl under concurrency (real QEMU)', { timeout: 600_000 }, () => {
  it('four domains saved at once, restored at once, migrated at once: all run on with their heartbeat', async () => {
    const a = xlHost('cc-a-');
    const b = xlHost('cc-b-');
    const created = await Promise.all(names.map(async (n) => a.xl('create', await guestConfig(a.dir, n))));
    for (const r of created) expect(r.exitCode, r.stderr).toBe(0);
    const booted: { beat: number }[] = [];
    for (const n of names) booted.push({ beat: (await beatAbove(a, n, 2)).at(-1)! });
    const files = names.map((n) => path.join(a.dir, `${n}.save`));
    const saved = await Promise.all(names.map((n, i) => a.xl('save', n, files[i]!)));
    for (const r of saved) expect(r.exitCode, r.stderr).toBe(0);
    expect(await list(a)).toEqual([]);
    const restored = await Promise.all(files.map((f) => a.xl('restore', f)));
    for (const r of restored) expect(r.exitCode, r.stderr).toBe(0);
    expect((await list(a)).map((v) => [v.name, v.status]).sort()).toEqual(names.map((n) => [n, 'running']));
    const moved = await Promise.all(names.map((n) => startMigrate(a, ['-s', '', n, sameHostReceiver(b)])));
    for (const r of moved) expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(await list(a)).toEqual([]);
    expect(a.watcher.liveQemus()).toEqual([]);
    const there = await list(b);
    expect(there.map((v) => [v.name, v.status]).sort()).toEqual(names.map((n) => [n, 'running']));
    for (const [i, n] of names.entries()) {
      const beats = await beatAbove(b, n, booted[i]!.beat + 3);
      expect(continuous(beats)).toBe(true);
      expect(beats[0]).toBeGreaterThan(booted[i]!.beat);
    }
  });

  it('xl destroy racing a running xl save: the domain is gone, the save failed, no file under its name', async () => {
    const a = xlHost('cc-a-');
    const { pid } = await bootSource(a, 'ccs');
    const file = path.join(a.dir, 'ccs.save');
    const save = execa('node', [XL, '--state-dir', a.stateDir, 'save', '--bandwidth', '2', 'ccs', file], {
      reject: false,
      timeout: 120_000,
    });
    await a.watcher.waitFor((d) => d.name === 'ccs' && d.status === 'saving');
    const destroyed = await a.xl('destroy', 'ccs');
    const saved = await save;
    expect(saved.timedOut).toBe(false);
    expect(destroyed.exitCode, destroyed.stderr).toBe(0);
    expect(saved.exitCode).toBe(1);
    expect(xlLines(String(saved.stderr))).toHaveLength(1);
    expect(isProcessAlive(pid)).toBe(false);
    expect(await list(a)).toEqual([]);
    expect(records(a.stateDir)).toEqual([]);
    // Neither the final name nor a partial file beside it.
    expect(readdirSync(a.dir).filter((f) => f.startsWith('ccs.save'))).toEqual([]);
  });

  it('xl destroy racing a running xl migrate: the domain is gone on both sides, the migration failed', async () => {
    const a = xlHost('cc-a-');
    const b = xlHost('cc-b-');
    const { pid } = await bootSource(a, 'ccm');
    const child = startMigrate(a, ['--bandwidth', '1', '-s', '', 'ccm', sameHostReceiver(b)]);
    await statusInRam(a, 'ccm');
    const destroyed = await a.xl('destroy', 'ccm');
    const r = await child;
    expect(r.timedOut).toBe(false);
    expect(destroyed.exitCode, destroyed.stderr).toBe(0);
    expect(r.exitCode).toBe(1);
    expect(xlLines(String(r.stderr))).toHaveLength(1);
    expect(isProcessAlive(pid)).toBe(false);
    expect(await list(a)).toEqual([]);
    expect(
      existsSync(path.join(a.stateDir, 'domains')) ? readdirSync(path.join(a.stateDir, 'domains')) : [],
    ).toEqual([]);
    await expectReceiverClean(b);
  });
});
