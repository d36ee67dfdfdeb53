/**
 * A TimelineData as an SVG chart: phases as bands, the transfer rate and the guest's dirty rate
 * (MB/s, left axis) and the RAM still to send (MiB, right axis) as lines, marked spans (the
 * downtime) in red.
 */
import { el, niceScale, num, svgDocument, text } from './svg.js';
import type { TimelineData, TimelinePoint } from './timeline.js';

const W = 900;
const H = 460;
const PLOT = { left: 70, right: 80, top: 56, bottom: 86 };
const BANDS = ['#eef3fb', '#fbf3e6', '#eef8ee', '#f6eef8', '#f8f8e8', '#eaf6f8'];
const LINES = { rate: '#1f77b4', dirty: '#ff7f0e', remaining: '#2ca02c' };
const MB = 1e6;
const MIB = 1024 * 1024;

function path(
  points: TimelinePoint[],
  value: (p: TimelinePoint) => number | undefined,
  x: (t: number) => number,
  y: (v: number) => number,
): string {
  const d = points
    .map((p) => ({ t: p.t, v: value(p) }))
    .filter((p): p is { t: number; v: number } => p.v !== undefined && Number.isFinite(p.v))
    .map((p, i) => `${i === 0 ? 'M' : 'L'}${num(x(p.t))} ${num(y(p.v))}`)
    .join(' ');
  return d;
}

export function timelineSvg(data: TimelineData): string {
  const end = Math.max(data.end, 0.001);
  const pw = W - PLOT.left - PLOT.right;
  const ph = H - PLOT.top - PLOT.bottom;
  const xs = niceScale(end, 8);
  const x = (t: number) => PLOT.left + (Math.min(Math.max(t, 0), xs.top) / xs.top) * pw;
  const rates = data.points.flatMap((p) => [p.rate ?? 0, p.dirtyRate ?? 0]).map((v) => v / MB);
  const left = niceScale(Math.max(0, ...rates));
  const right = niceScale(Math.max(0, ...data.points.map((p) => (p.remaining ?? 0) / MIB)));
  const yl = (v: number) => PLOT.top + ph - (Math.max(0, v) / left.top) * ph;
  const yr = (v: number) => PLOT.top + ph - (Math.max(0, v) / right.top) * ph;
  const body: string[] = [text(PLOT.left, 24, data.title, { 'font-size': 15, 'font-weight': 'bold' })];
  data.phases.forEach((p, i) => {
    const x0 = x(p.start);
    const w = Math.max(1, x(p.end) - x0);
    body.push(el('rect', { x: x0, y: PLOT.top, width: w, height: ph, fill: BANDS[i % BANDS.length] }));
    body.push(
      text(x0 + 3, PLOT.top - 6 - (i % 2) * 12, p.name, { 'font-size': 10, fill: '#444444' }),
      el('line', { x1: x0, x2: x0, y1: PLOT.top - 4 - (i % 2) * 12, y2: PLOT.top + ph, stroke: '#bbbbbb' }),
    );
  });
  for (let v = 0; v <= left.top + left.step / 2; v += left.step) {
    body.push(
      el('line', {
        x1: PLOT.left,
        x2: PLOT.left + pw,
        y1: yl(v),
        y2: yl(v),
        stroke: '#dddddd',
        'stroke-dasharray': '2 3',
      }),
      text(PLOT.left - 6, yl(v) + 4, num(v), { 'text-anchor': 'end', fill: LINES.rate }),
    );
  }
  for (let v = 0; v <= right.top + right.step / 2; v += right.step)
    body.push(text(PLOT.left + pw + 6, yr(v) + 4, num(v), { fill: LINES.remaining }));
  for (let t = 0; t <= xs.top + xs.step / 2; t += xs.step)
    body.push(text(x(t), PLOT.top + ph + 16, num(t), { 'text-anchor': 'middle', fill: '#555555' }));
  body.push(
    text(PLOT.left + pw / 2, PLOT.top + ph + 34, 'seconds', { 'text-anchor': 'middle', fill: '#555555' }),
    text(18, PLOT.top + ph / 2, 'MB/s', {
      transform: `rotate(-90 18 ${num(PLOT.top + ph / 2)})`,
      'text-anchor': 'middle',
      fill: LINES.rate,
    }),
    text(W - 14, PLOT.top + ph / 2, 'MiB remaining', {
      transform: `rotate(90 ${W - 14} ${num(PLOT.top + ph / 2)})`,
      'text-anchor': 'middle',
      fill: LINES.remaining,
    }),
  );
  for (const m of data.marks) {
    const x0 = x(m.start);
    const w = Math.max(2, x(m.end) - x0);
    body.push(
      el('rect', {
        x: x0,
        y: PLOT.top,
        width: w,
        height: ph,
        fill: '#d62728',
        'fill-opacity': 0.25,
        stroke: '#d62728',
      }),
      text(Math.min(x0 + w + 4, PLOT.left + pw - 4), PLOT.top + 14, m.label, {
        fill: '#d62728',
        'text-anchor': x0 + w + 4 > PLOT.left + pw - 120 ? 'end' : 'start',
        'font-weight': 'bold',
      }),
    );
  }
  const lines: [string, string, string][] = [
    [
      'transfer rate (MB/s)',
      LINES.rate,
      path(data.points, (p) => (p.rate === undefined ? undefined : p.rate / MB), x, yl),
    ],
    [
      'dirty rate (MB/s)',
      LINES.dirty,
      path(data.points, (p) => (p.dirtyRate === undefined ? undefined : p.dirtyRate / MB), x, yl),
    ],
    [
      'remaining (MiB)',
      LINES.remaining,
      path(data.points, (p) => (p.remaining === undefined ? undefined : p.remaining / MIB), x, yr),
    ],
  ];
  for (const [, colour, d] of lines)
    if (d !== '')
      body.push(
        el('path', { d, fill: 'none', stroke: colour, 'stroke-width': 2, 'stroke-linejoin': 'round' }),
      );
  body.push(
    el('rect', { x: PLOT.left, y: PLOT.top, width: pw, height: ph, fill: 'none', stroke: '#333333' }),
  );
  let lx = PLOT.left;
  const ly = H - 18;
  for (const [label, colour] of lines) {
    body.push(
      el('line', { x1: lx, x2: lx + 20, y1: ly - 4, y2: ly - 4, stroke: colour, 'stroke-width': 3 }),
      text(lx + 24, ly, label),
    );
    lx += 44 + label.length * 6.5;
  }
  body.push(
    el('rect', {
      x: lx,
      y: ly - 11,
      width: 14,
      height: 12,
      fill: '#d62728',
      'fill-opacity': 0.25,
      stroke: '#d62728',
    }),
    text(lx + 18, ly, 'guest paused / downtime'),
  );
  return svgDocument(W, H, data.title, body);
}
