import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { OBSERVE_INTERVAL_MS, ProgressReporter, type ProgressMode, type ProgressSample } from './reporter.js';

function capture(isTTY = false) {
  const stdout = new PassThrough();
  const stderr = Object.assign(new PassThrough(), { isTTY });
  const text = (s: PassThrough) => String(s.read() ?? '');
  return { out: { stdout, stderr }, stdoutText: () => text(stdout), stderrText: () => text(stderr) };
}

function reporter(mode: ProgressMode, isTTY = false) {
  const c = capture(isTTY);
  let now = 0;
  const r = new ProgressReporter(c.out, { mode, operation: 'save', now: () => now, intervalMs: 100 });
  return { ...c, r, tick: (ms: number) => (now += ms) };
}

describe('ProgressReporter', () => {
  test('JSON mode writes one event per line with operation and time, progress throttled', () => {
    const { r, tick, stdoutText, stderrText } = reporter('json');
    r.phase('ram', { total: 2048 });
    tick(1000);
    r.update({ bytes: 1024, total: 2048 });
    tick(50);
    r.update({ bytes: 1500, total: 2048 }); // inside the interval: dropped
    tick(50);
    r.update({ bytes: 2048, total: 2048 });
    r.summary({ result: 'ok', bytes: 2048 });
    const lines = stdoutText()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { event: 'phase', phase: 'ram', total: 2048, operation: 'save', time: 0 },
      {
        event: 'progress',
        phase: 'ram',
        bytes: 1024,
        total: 2048,
        rate: 1024,
        eta: 1,
        operation: 'save',
        time: 1,
      },
      {
        event: 'progress',
        phase: 'ram',
        bytes: 2048,
        total: 2048,
        rate: 1862,
        eta: 0,
        operation: 'save',
        time: 1.1,
      },
      { event: 'summary', result: 'ok', bytes: 2048, operation: 'save', time: 1.1 },
    ]);
    expect(stderrText()).toBe('');
  });

  test('a sample given as a function is only built when it will be shown', () => {
    const { r, tick, stdoutText } = reporter('json');
    r.phase('ram');
    let built = 0;
    const make = (bytes: number) => () => {
      built += 1;
      return { bytes };
    };
    tick(200);
    r.update(make(10));
    for (let i = 0; i < 50; i++) r.update(make(20)); // inside the interval: never built
    tick(200);
    r.update(make(30));
    expect(built).toBe(2);
    expect(
      stdoutText()
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { bytes?: number }).bytes),
    ).toEqual([undefined, 10, 30]);
  });

  test('TTY mode overwrites one status line on stderr and erases it at the end', () => {
    const { r, tick, stdoutText, stderrText } = reporter('tty', true);
    r.phase('ram');
    tick(2000);
    r.update({ bytes: 4 * 1024 ** 2, remaining: 4 * 1024 ** 2 });
    r.summary({ result: 'ok' });
    expect(stderrText()).toBe('\r\x1b[Ksave ram: 4.0 MiB, 2.0 MiB/s, ETA 0:02\r\x1b[K');
    expect(stdoutText()).toBe('');
  });

  test('TTY mode: every status line fits the terminal, read again at each line (40, then 80 columns)', () => {
    const c = capture(true);
    const stderr = Object.assign(c.out.stderr, { columns: 40 });
    let now = 0;
    const r = new ProgressReporter(c.out, {
      mode: 'tty',
      operation: 'migrate',
      now: () => now,
      intervalMs: 100,
    });
    r.phase('ram');
    const note = 'pass 3, dirty 1200 pages/s, downtime limit 300 ms, throttle 20%';
    now += 2000;
    r.update({ bytes: 512 * 1024 ** 2, total: 1024 ** 3, note });
    stderr.columns = 80;
    now += 2000;
    r.update({ bytes: 1024 ** 3, total: 1024 ** 3, note });
    const lines = c
      .stderrText()
      .split('\r\x1b[K')
      .filter((l) => l !== '');
    expect(lines.map((l) => l.length)).toEqual([39, 79]);
    expect(lines[0]).toBe('migrate ram: 512.0 MiB / 1.0 GiB (50%)…');
    expect(lines[1]).toMatch(/^migrate ram: 1\.0 GiB \/ 1\.0 GiB \(100%\), .*, pass 3, .*…$/);
    // No terminal width known: the line is left whole.
    const whole = capture(true);
    const r2 = new ProgressReporter(whole.out, { mode: 'tty', operation: 'migrate', now: () => now });
    r2.update({ bytes: 1, note }, true);
    expect(whole.stderrText()).toContain(note);
  });

  test('quiet mode writes nothing; forCommand picks the mode from --json and the terminal', () => {
    const { r, stdoutText, stderrText } = reporter('quiet');
    r.phase('ram');
    r.update({ bytes: 1 }, true);
    r.summary({ result: 'ok' });
    expect(stdoutText() + stderrText()).toBe('');
    expect(ProgressReporter.forCommand(capture(true).out, true, 'x').mode).toBe('json');
    expect(ProgressReporter.forCommand(capture(true).out, false, 'x').mode).toBe('tty');
    expect(ProgressReporter.forCommand(capture(false).out, false, 'x').mode).toBe('quiet');
  });

  test('observers see phases and throttled samples in every mode; what is written stays the same', () => {
    for (const mode of ['quiet', 'json'] as const) {
      const plain = reporter(mode);
      const watched = reporter(mode);
      const phases: string[] = [];
      const samples: ProgressSample[] = [];
      const stop = watched.r.observe({ phase: (p) => phases.push(p), update: (s) => samples.push({ ...s }) });
      for (const { r, tick } of [plain, watched]) {
        r.phase('ram');
        tick(1000);
        r.update(() => ({ bytes: 1 }));
        tick(OBSERVE_INTERVAL_MS / 2);
        r.update(() => ({ bytes: 2 })); // inside both intervals
        tick(OBSERVE_INTERVAL_MS);
        r.update(() => ({ bytes: 3 })); // the observer's, not the JSON output's (1000 ms)
        r.update({ bytes: 4 }, true);
        r.phase('switchover');
        r.summary({ result: 'ok' });
      }
      expect(phases).toEqual(['ram', 'switchover']);
      expect(samples.map((s) => s.bytes)).toEqual([1, 3, 4]);
      expect(watched.stdoutText()).toBe(plain.stdoutText());
      expect(watched.stderrText()).toBe(plain.stderrText());
      stop();
      watched.r.phase('cleanup');
      expect(phases).toEqual(['ram', 'switchover']);
    }
  });
});
