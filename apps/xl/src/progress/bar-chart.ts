/**
 * A grouped bar chart as SVG: per group (an operation: save, restore) one bar per tool, the
 * best run solid and the median as a lighter bar behind it, each labelled with its value.
 * The benchmarks write one per run under tools/bench/results/.
 */
import { PALETTE, el, niceScale, num, svgDocument, text } from './svg.js';

export interface BarValue {
  /** The tool (legend entry), e.g. "xl", "virsh". */
  series: string;
  best: number;
  median: number;
}

export interface BarGroup {
  label: string;
  bars: BarValue[];
}

export interface BarChart {
  title: string;
  /** Under the title: the machine, the date, what was measured. */
  subtitle?: string;
  /** The value axis, e.g. "seconds (lower is better)". */
  unit: string;
  groups: BarGroup[];
}

const W = 760;
const H = 420;
const PLOT = { left: 70, right: 20, top: 70, bottom: 70 };

export function barChartSvg(chart: BarChart): string {
  const series = [...new Set(chart.groups.flatMap((g) => g.bars.map((b) => b.series)))];
  const colour = (s: string) => PALETTE[series.indexOf(s) % PALETTE.length] ?? '#444444';
  const max = Math.max(0, ...chart.groups.flatMap((g) => g.bars.flatMap((b) => [b.best, b.median])));
  const { top, step } = niceScale(max);
  const pw = W - PLOT.left - PLOT.right;
  const ph = H - PLOT.top - PLOT.bottom;
  const y = (v: number) => PLOT.top + ph - (Math.max(0, v) / top) * ph;
  const body: string[] = [
    text(PLOT.left, 24, chart.title, { 'font-size': 16, 'font-weight': 'bold' }),
    ...(chart.subtitle === undefined ? [] : [text(PLOT.left, 44, chart.subtitle, { fill: '#555555' })]),
  ];
  for (let v = 0; v <= top + step / 2; v += step) {
    body.push(
      el('line', { x1: PLOT.left, x2: W - PLOT.right, y1: y(v), y2: y(v), stroke: '#e0e0e0' }),
      text(PLOT.left - 6, y(v) + 4, num(v), { 'text-anchor': 'end', fill: '#555555' }),
    );
  }
  body.push(
    text(16, PLOT.top + ph / 2, chart.unit, {
      transform: `rotate(-90 16 ${num(PLOT.top + ph / 2)})`,
      'text-anchor': 'middle',
      fill: '#333333',
    }),
  );
  const gw = pw / Math.max(1, chart.groups.length);
  chart.groups.forEach((g, gi) => {
    const x0 = PLOT.left + gi * gw;
    const bw = Math.min(70, (gw * 0.8) / Math.max(1, g.bars.length));
    const start = x0 + (gw - bw * g.bars.length) / 2;
    g.bars.forEach((b, bi) => {
      const x = start + bi * bw + 4;
      const w = bw - 8;
      const c = colour(b.series);
      body.push(
        el('rect', { x, y: y(b.median), width: w, height: y(0) - y(b.median), fill: c, 'fill-opacity': 0.3 }),
        el('rect', { x: x + w * 0.2, y: y(b.best), width: w * 0.6, height: y(0) - y(b.best), fill: c }),
        text(x + w / 2, y(Math.max(b.best, b.median)) - 4, `${num(b.best)} / ${num(b.median)}`, {
          'text-anchor': 'middle',
          'font-size': 10,
        }),
      );
    });
    body.push(text(x0 + gw / 2, y(0) + 18, g.label, { 'text-anchor': 'middle', 'font-weight': 'bold' }));
  });
  body.push(el('line', { x1: PLOT.left, x2: W - PLOT.right, y1: y(0), y2: y(0), stroke: '#333333' }));
  // Legend: one swatch per tool, then how to read a bar.
  let lx = PLOT.left;
  const ly = H - 22;
  for (const s of series) {
    body.push(
      el('rect', { x: lx, y: ly - 10, width: 12, height: 12, fill: colour(s) }),
      text(lx + 16, ly, s),
    );
    lx += 24 + s.length * 7.5;
  }
  body.push(
    text(W - PLOT.right, ly, 'solid: best run, light: median; labels best / median', {
      'text-anchor': 'end',
      fill: '#555555',
    }),
  );
  return svgDocument(W, H, chart.title, body);
}
