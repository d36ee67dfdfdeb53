// End to end: the convergence ladder (real QEMU, TCG, same host). A guest that dirties its
// 24 MiB working set at 16 MiB/s never converges over a 12 MiB/s link, not even with a 1 s
// downtime limit: xl raises the limit (600, then 1000 ms), throttles the vCPUs unless
// --no-throttle, and gives up with the figures (the source runs on as before), or with
// --postcopy switches to post-copy, which always finishes.
import { describe, expect, it } from 'vitest';
import { isProcessAlive, type DomainView } from '@xlkit/xl';
import {
  continuous,
  onJsonLines,
  sameHostReceiver,
  startMigrate,
  waitForBeatAbove,
  xlHost,
  type XlHost,
} from './xl-rig.js';
import { cleanupAfterEach } from './helpers/index.js';
import { bootSource, expectReceiverClean, expectSourceIntact } from './migrate-checks.js';

cleanupAfterEach();

const DIRTIER = { extra: '"console=ttyS0 quiet xlkit.dirty=16 xlkit.dirtymb=24"' };

const boot = (a: XlHost, name: string) => bootSource(a, name, DIRTIER);

function xlLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('xl: '));
}

const steps = (events: Record<string, unknown>[]) => events.filter((e) => e.event === 'converge-step');

describe('xl migrate: the convergence ladder (real QEMU)', () => {
  it('--no-throttle: the downtime limit doubles up to 1000 ms, then xl gives up with the figures; the source runs on', async () => {
    const a = xlHost('cv-a-');
    const b = xlHost('cv-b-');
    const { pid, beat } = await boot(a, 'cv1');
    const events: Record<string, unknown>[] = [];
    const child = startMigrate(a, [
      '--json',
      '--bandwidth',
      '12',
      '--no-throttle',
      '-s',
      '',
      'cv1',
      sameHostReceiver(b),
    ]);
    onJsonLines(child.stdout!, (ev) => events.push(ev));
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(1);
    const lines = xlLines(String(r.stderr));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^xl: migration to .* failed in ram: not converging: [\d.]+ MiB remaining after \d+ passes \(lowest [\d.]+ MiB at pass \d+\), dirty rate [\d.]+ MiB\/s vs link [\d.]+ MiB\/s, [\d.]+ s; tried downtime limit 1000 ms, no throttle \(--no-throttle\); with --postcopy it would move anyway; the domain 'cv1' still runs on this host$/,
    );
    const ladder = steps(events);
    expect(ladder.map((e) => [e.step, e.downtimeMs])).toEqual([
      ['downtime', 600],
      ['downtime', 1000],
      ['abort', undefined],
    ]);
    for (const e of ladder) expect(e).toMatchObject({ phase: 'ram', remaining: expect.any(Number) });
    const passes = ladder.map((e) => e.pass as number);
    expect(passes.every((p, i) => i === 0 || p > passes[i - 1]!)).toBe(true);
    // The raised limit shows in the progress events that follow.
    expect(events.some((e) => e.event === 'progress' && e.downtimeLimitMs === 1000)).toBe(true);
    expect(events.at(-1)).toMatchObject({ event: 'summary', result: 'failed', domain: 'cv1' });
    await b.xl('list');
    await expectReceiverClean(b);
    await expectSourceIntact(a, 'cv1', pid, beat);
  });

  it('by default the throttle comes after the downtime: either the guest moves, or xl gives up and the source runs on', async () => {
    const a = xlHost('cv-a-');
    const b = xlHost('cv-b-');
    const { pid, beat } = await boot(a, 'cv2');
    const events: Record<string, unknown>[] = [];
    const child = startMigrate(a, ['--json', '--bandwidth', '12', '-s', '', 'cv2', sameHostReceiver(b)]);
    onJsonLines(child.stdout!, (ev) => events.push(ev));
    const r = await child;
    const ladder = steps(events);
    expect(ladder.slice(0, 3).map((e) => [e.step, e.downtimeMs])).toEqual([
      ['downtime', 600],
      ['downtime', 1000],
      ['throttle', undefined],
    ]);
    expect(ladder[2]!.throttle).toMatchObject({ 'max-cpu-throttle': 99 });
    if (r.exitCode === 0) {
      // Throttled enough to converge: the guest runs on B, its heartbeat continuing.
      expect(ladder).toHaveLength(3);
      expect(events.at(-1)).toMatchObject({ event: 'summary', result: 'ok', domain: 'cv2' });
      expect(isProcessAlive(pid)).toBe(false);
      const [moved] = JSON.parse((await b.xl('list', '--json')).stdout) as DomainView[];
      expect(moved).toMatchObject({ name: 'cv2', status: 'running' });
      const beats = await waitForBeatAbove(b, 'cv2', beat + 5);
      expect(continuous(beats.filter((x) => x > beat))).toBe(true);
      return;
    }
    expect(r.exitCode, String(r.stderr)).toBe(1);
    expect(ladder.map((e) => e.step)).toEqual(['downtime', 'downtime', 'throttle', 'abort']);
    const lines = xlLines(String(r.stderr));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^xl: migration to .* failed in ram: not converging: .* tried downtime limit 1000 ms, vCPUs throttled to \d+%; .*the domain 'cv2' still runs on this host$/,
    );
    await b.xl('list');
    await expectReceiverClean(b);
    await expectSourceIntact(a, 'cv2', pid, beat);
  });

  it('--postcopy without a trigger: after the downtime rungs the ladder switches to post-copy, which completes', async () => {
    const a = xlHost('cv-a-');
    const b = xlHost('cv-b-');
    const { pid, beat } = await boot(a, 'cv3');
    const events: Record<string, unknown>[] = [];
    const args = ['--json', '--bandwidth', '12', '--no-throttle', '--postcopy', '-s', '', 'cv3'];
    const child = startMigrate(a, [...args, sameHostReceiver(b)]);
    onJsonLines(child.stdout!, (ev) => events.push(ev));
    const r = await child;
    expect(r.exitCode, String(r.stderr)).toBe(0);
    expect(steps(events).map((e) => [e.step, e.downtimeMs])).toEqual([
      ['downtime', 600],
      ['downtime', 1000],
      ['postcopy', undefined],
    ]);
    // The ladder asked; the switch itself is the post-copy hooks' (as `xl migrate-postcopy`'s).
    const rung = events.findIndex((e) => e.event === 'converge-step' && e.step === 'postcopy');
    const start = events.findIndex((e) => e.event === 'postcopy-start');
    expect(events[start]).toMatchObject({ why: 'requested' });
    expect(start).toBeGreaterThan(rung);
    expect(events.findIndex((e) => e.event === 'postcopy-active')).toBeGreaterThan(start);
    expect(events.at(-1)).toMatchObject({ event: 'summary', result: 'ok', domain: 'cv3' });
    expect(isProcessAlive(pid)).toBe(false);
    const [moved] = JSON.parse((await b.xl('list', '--json')).stdout) as DomainView[];
    expect(moved).toMatchObject({ name: 'cv3', status: 'running' });
    const beats = await waitForBeatAbove(b, 'cv3', beat + 5);
    expect(continuous(beats.filter((x) => x > beat))).toBe(true);
  });
});
