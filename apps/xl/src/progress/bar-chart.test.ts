import { describe, expect, it } from 'vitest';
import { colourStats, renderSvg, shareOf } from '../testing/svg-render.js';
import { barChartSvg, type BarChart } from './bar-chart.js';

const chart: BarChart = {
  title: 'save and restore <peers>',
  subtitle: 'TCG guest, 1 GiB',
  unit: 'seconds (lower is better)',
  groups: [
    {
      label: 'save',
      bars: [
        { series: 'xl', best: 1.2, median: 1.4 },
        { series: 'virsh', best: 5.0, median: 5.3 },
      ],
    },
    {
      label: 'restore',
      bars: [
        { series: 'xl', best: 0.9, median: 1.0 },
        { series: 'virsh', best: 2.2, median: 2.4 },
      ],
    },
  ],
};

describe('barChartSvg', () => {
  it('labels every bar with best / median, and escapes the title', () => {
    const svg = barChartSvg(chart);
    expect(svg).toContain('save and restore &lt;peers&gt;');
    for (const label of ['1.2 / 1.4', '5 / 5.3', '0.9 / 1', '2.2 / 2.4']) expect(svg).toContain(label);
  });

  it("renders to a picture with both tools' colours in it (rsvg-convert)", async () => {
    const px = await renderSvg(barChartSvg(chart));
    expect(px.width).toBe(760);
    expect(px.height).toBe(420);
    const stats = colourStats(px);
    expect(stats.colours).toBeGreaterThan(8);
    expect(stats.inked).toBeGreaterThan(0.05);
    // xl's blue and virsh's red bars: the taller bars cover more of the picture.
    const blue = shareOf(px, [0x1f, 0x77, 0xb4]);
    const red = shareOf(px, [0xd6, 0x27, 0x28]);
    expect(blue).toBeGreaterThan(0.002);
    expect(red).toBeGreaterThan(blue);
  });

  it('a chart without values still renders (an axis and a title)', async () => {
    const stats = colourStats(await renderSvg(barChartSvg({ title: 'empty', unit: 's', groups: [] })));
    expect(stats.inked).toBeGreaterThan(0);
  });
});
