import { describe, expect, it } from 'vitest';
import { colourStats, renderSvg, shareOf } from '../testing/svg-render.js';
import { TimelineRecorder } from './timeline.js';
import { timelineSvg } from './timeline-chart.js';

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('TimelineRecorder', () => {
  it('turns byte samples into a rate per phase, with remaining and the dirty rate in bytes', () => {
    const c = clock();
    const r = new TimelineRecorder(c.now);
    r.phase('header');
    c.advance(100);
    r.phase('ram');
    r.update({ bytes: 0, remaining: 1000 });
    c.advance(500);
    r.update({ bytes: 50e6, remaining: 500, fields: { dirtyPagesRate: 1000 } });
    c.advance(500);
    r.update({ bytes: 150e6, remaining: 0 });
    c.advance(200);
    r.phase('sync');
    r.update({ bytes: 0 });
    c.advance(300);
    r.mark('guest paused', r.phaseStart('header') ?? 0, r.elapsed);
    const d = r.finish('xl save');
    expect(d.phases).toEqual([
      { name: 'header', start: 0, end: 0.1 },
      { name: 'ram', start: 0.1, end: 1.3 },
      { name: 'sync', start: 1.3, end: 1.6 },
    ]);
    const rates = d.points.map((p) => p.rate);
    expect(rates[0]).toBeUndefined();
    expect(rates[1]).toBeCloseTo(100e6);
    expect(rates[2]).toBeCloseTo(200e6);
    expect(rates[3]).toBeUndefined();
    expect(d.points[1]).toMatchObject({ remaining: 500, dirtyRate: 4096000 });
    expect(d.marks).toEqual([{ label: 'guest paused', start: 0, end: 1.6 }]);
    expect(d.end).toBeCloseTo(1.6);
  });

  it('places a wall-clock stamp on its own axis', () => {
    const r = new TimelineRecorder();
    expect(r.fromWallClock(Date.now() + 2000)).toBeGreaterThan(1.9);
  });
});

describe('timelineSvg', () => {
  it('renders phases, the three lines and the downtime (rsvg-convert)', async () => {
    const c = clock();
    const r = new TimelineRecorder(c.now);
    r.phase('setup');
    c.advance(300);
    r.phase('ram');
    for (let i = 0; i <= 20; i++) {
      r.update({ bytes: i * 40e6, remaining: (20 - i) * 40e6, fields: { dirtyPagesRate: 5000 + i * 100 } });
      c.advance(200);
    }
    r.mark('downtime 180 ms', r.elapsed - 0.18, r.elapsed);
    r.phase('finish');
    c.advance(400);
    const svg = timelineSvg(r.finish('xl migrate <guest> to host'));
    expect(svg).toContain('xl migrate &lt;guest&gt; to host');
    expect(svg).toContain('downtime 180 ms');
    const px = await renderSvg(svg);
    const stats = colourStats(px);
    expect(stats.colours).toBeGreaterThan(10);
    expect(stats.inked).toBeGreaterThan(0.1);
    for (const rgb of [
      [0x1f, 0x77, 0xb4],
      [0xff, 0x7f, 0x0e],
      [0x2c, 0xa0, 0x2c],
    ] as [number, number, number][])
      expect(shareOf(px, rgb)).toBeGreaterThan(0.0002);
  });

  it('an operation with no samples (it failed at once) still renders', async () => {
    const r = new TimelineRecorder();
    r.phase('header');
    const stats = colourStats(await renderSvg(timelineSvg(r.finish('xl save failed'))));
    expect(stats.inked).toBeGreaterThan(0.01);
  });
});
