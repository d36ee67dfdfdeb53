// End to end: post-copy (real QEMU, TCG, same host; RAM QEMU to QEMU, or relayed with QEMU's
// return path carried back through the pipe). A guest that dirties RAM
// faster than the capped bandwidth never converges in pre-copy; with post-copy its vCPUs move to
// the destination after the first pass and the remaining pages follow.
import { describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { isProcessAlive, type DomainView } from '@xlkit/xl';
import {
  continuous,
  onJsonLines,
  records,
  sameHostReceiver,
  startMigrate,
  waitForBeatAbove,
  xlHost,
  type XlHost,
} from './xl-rig.js';
import { cleanupAfterEach } from './helpers/index.js';
import { bootSource, expectRamcheckClean, statusInRam } from './migrate-checks.js';

cleanupAfterEach();

/**
 * 16 MiB/s of dirtying over a 32 MiB working set, more than an 8 MiB/s link carries, and the RAM
 * checker: 16 MiB of known patterns rewritten and verified page by page, generation after
 * generation, so a page post-copy lost or delivered stale shows as a bad page.
 */
const DIRTIER = { extra: '"console=ttyS0 quiet xlkit.dirty=16 xlkit.dirtymb=32 xlkit.ramcheck=16"' };

const boot = (a: XlHost, name: string) => bootSource(a, name, DIRTIER);

describe('xl migrate --postcopy (real QEMU)', () => {
  it('a guest that cannot converge at 8 MiB/s moves after one pass: post-copy completes, the heartbeat goes on', async () => {
    const a = xlHost('pc-a-');
    const b = xlHost('pc-b-');
    const { pid, beat } = await boot(a, 'pc1');
    const events: Record<string, unknown>[] = [];
    const child = startMigrate(a, [
      '--json',
      '--debug',
      '--transport',
      'direct',
      '--bandwidth',
      '8',
      '--postcopy',
      '--postcopy-after',
      '1',
      '-s',
      '',
      'pc1',
      sameHostReceiver(b),
    ]);
    onJsonLines(child.stdout!, (ev) => events.push(ev));
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(events.find((e) => e.event === 'negotiated')?.features).toContain('postcopy');
    // It switched after the first pass, not before; and the guest ran on B from then on.
    const start = events.findIndex((e) => e.event === 'postcopy-start');
    expect(events[start]).toMatchObject({ why: 'passes', pass: 2 });
    expect(events.findIndex((e) => e.event === 'postcopy-active')).toBeGreaterThan(start);
    expect(String(r.stderr)).toContain('post-copy: the guest runs here while the rest of its RAM arrives');
    expect(events.at(-1)).toMatchObject({ result: 'ok', domain: 'pc1' });
    // The guest's pause ends when it runs on B (at POSTCOPY_GO), not when the last page arrived.
    expect(events.at(-1)!.pausedMs as number).toBeLessThan(1500);
    expect(isProcessAlive(pid)).toBe(false);
    const [moved] = JSON.parse((await b.xl('list', '--json')).stdout) as DomainView[];
    expect(moved).toMatchObject({ name: 'pc1', status: 'running' });
    const beats = await waitForBeatAbove(b, 'pc1', beat + 5);
    expect(beats[0]).toBeGreaterThan(beat);
    expect(continuous(beats)).toBe(true);
    await expectRamcheckClean(b, 'pc1');
  });

  it('xl migrate-postcopy from another process switches a running migration; it completes there', async () => {
    const a = xlHost('pc-a-');
    const b = xlHost('pc-b-');
    const { beat } = await boot(a, 'pc2');
    const events: Record<string, unknown>[] = [];
    const args = ['--json', '--transport', 'direct', '--bandwidth', '8', '--postcopy', '-s', '', 'pc2'];
    const child = startMigrate(a, [...args, sameHostReceiver(b)]);
    onJsonLines(child.stdout!, (ev) => events.push(ev));
    await statusInRam(a, 'pc2');
    const asked = await a.xl('migrate-postcopy', 'pc2');
    expect(asked.exitCode, asked.stderr).toBe(0);
    expect(asked.stdout).toContain("Switching the migration of 'pc2' to post-copy");
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(events.find((e) => e.event === 'postcopy-start')).toMatchObject({ why: 'requested' });
    const beats = await waitForBeatAbove(b, 'pc2', beat + 5);
    expect(continuous(beats)).toBe(true);
    await expectRamcheckClean(b, 'pc2');
    // Nothing to switch any more.
    const late = await a.xl('migrate-postcopy', 'pc2');
    expect(late.exitCode).toBe(1);
    expect(late.stderr.split('\n').filter(Boolean)).toHaveLength(1);
  });

  it('over the relayed path too: the return path crosses the pipe, post-copy completes, the heartbeat goes on', async () => {
    const a = xlHost('pc-a-');
    const b = xlHost('pc-b-');
    const { pid, beat } = await boot(a, 'pc3');
    const events: Record<string, unknown>[] = [];
    const args = ['--json', '--bandwidth', '8', '--postcopy', '--postcopy-after', '1', '-s', '', 'pc3'];
    const child = startMigrate(a, [...args, sameHostReceiver(b)]);
    onJsonLines(child.stdout!, (ev) => events.push(ev));
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(events.find((e) => e.event === 'postcopy-start')).toMatchObject({ why: 'passes', pass: 2 });
    expect(events.some((e) => e.event === 'postcopy-active')).toBe(true);
    expect(events.find((e) => e.event === 'ram-endpoint')).toBeUndefined();
    // The destination's page requests came back through the pipe into the source QEMU.
    expect(events.find((e) => e.event === 'return-path')?.bytes as number).toBeGreaterThan(0);
    // The source QEMU's count of those requests (the page-fault round trip's denominator).
    expect(typeof events.find((e) => e.event === 'postcopy-figures')?.requests).toBe('number');
    expect(events.at(-1)).toMatchObject({ result: 'ok', domain: 'pc3' });
    expect((events.at(-1)!.chunks as number) > 0).toBe(true);
    expect(isProcessAlive(pid)).toBe(false);
    const beats = await waitForBeatAbove(b, 'pc3', beat + 5);
    expect(beats[0]).toBeGreaterThan(beat);
    expect(continuous(beats)).toBe(true);
    await expectRamcheckClean(b, 'pc3');
  });
  it('a link cut in post-copy leaves both sides paused and destroys nothing; the source is never resumed', async () => {
    const a = xlHost('pc-a-');
    const b = xlHost('pc-b-');
    const { pid } = await boot(a, 'pc4');
    const args = [
      '--json',
      '--debug',
      '--bandwidth',
      '8',
      '--postcopy',
      '--postcopy-after',
      '1',
      '-s',
      '',
      'pc4',
    ];
    const child = startMigrate(a, [...args, sameHostReceiver(b)]);
    // Once the guest runs on B, kill B's xl: the pipe and both QEMUs' migration channel break.
    let cut = false;
    child.stderr!.on('data', (chunk: Buffer) => {
      if (cut || !chunk.toString().includes('post-copy: the guest runs here')) return;
      cut = true;
      // B's xl (and a shell around it): every process running that receiver command but the sender.
      void execa('pgrep', ['-f', '--', `--state-dir ${b.stateDir} migrate-receive`], { reject: false }).then(
        (p) => {
          for (const pid of String(p.stdout).split('\n').map(Number))
            if (pid > 0 && pid !== child.pid) process.kill(pid, 'SIGKILL');
        },
      );
    });
    const r = await child;
    expect(cut).toBe(true);
    expect(r.exitCode).toBe(1);
    expect(String(r.stderr)).toMatch(
      /xl: MIGRATION FAILED IN POST-COPY .*kept paused as 'pc4--migratedaway'/,
    );
    // Nothing destroyed: the source QEMU waits paused, the guest's QEMU on B too (its RAM incomplete).
    expect(isProcessAlive(pid)).toBe(true);
    const [left] = JSON.parse((await a.xl('list', '--json')).stdout) as DomainView[];
    expect(left).toMatchObject({ name: 'pc4--migratedaway' });
    const [there] = JSON.parse((await b.xl('list', '--json')).stdout) as DomainView[];
    expect(there).toMatchObject({ name: 'pc4' });
    expect(isProcessAlive(there!.qemu!.pid)).toBe(true);
    // Not resumed by the next xl command either.
    await a.xl('list');
    expect(isProcessAlive(pid)).toBe(true);
    const [still] = JSON.parse((await a.xl('list', '--json')).stdout) as DomainView[];
    expect(still).toMatchObject({ name: 'pc4--migratedaway' });
    expect(still!.status).not.toBe('running');
  });
  it('a receiver that dies as post-copy begins: the next xl there keeps its QEMU instead of reaping it', async () => {
    const a = xlHost('pc-a-');
    const b = xlHost('pc-b-');
    await boot(a, 'pc5');
    const args = ['--json', '--bandwidth', '8', '--postcopy', '--postcopy-after', '1', '-s', '', 'pc5'];
    const child = startMigrate(a, [...args, sameHostReceiver(b)], {
      env: { XLKIT_FAULT: 'receiver-stall:postcopy' },
    });
    let active = false;
    onJsonLines(child.stdout!, (ev) => {
      if (ev.event === 'postcopy-active') active = true;
    });
    // B's receiver holds still at POSTCOPY_GO, its record still NAME--incoming (marked post-copy).
    const incoming = await b.watcher.waitFor((d) => d.name === 'pc5--incoming' && d.postcopy === true);
    for (let i = 0; !active; i++) {
      if (i > 600) throw new Error('the source never reached post-copy');
      await sleep(50);
    }
    await sleep(500);
    process.kill(incoming.ownerPid!, 'SIGKILL');
    const r = await child;
    expect(r.exitCode).toBe(1);
    const listed = await b.xl('list');
    expect(listed.stderr).toMatch(
      /domain 'pc5--incoming' \(id \d+\) is kept: .*its QEMU is in postcopy-(paused|active)/,
    );
    expect(isProcessAlive(incoming.qemu!.pid)).toBe(true);
    expect(records(b.stateDir).map((d) => d.name)).toEqual(['pc5--incoming']);
  });
});
