/** Every benchmark's picture: a bar chart (best and median per tool) under tools/bench/results/. */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { barChartSvg, type BarGroup } from '@xlkit/xl';
import { ROOT } from './xl-cli.js';
import { median } from './median.js';

export const RESULTS_DIR = path.join(ROOT, 'tools', 'bench', 'results');

/** A group's bar from a tool's runs (seconds, or any unit the chart names). */
export function bar(series: string, runs: readonly number[]): BarGroup['bars'][number] {
  return { series, best: Math.min(...runs), median: median(runs) };
}

/** Writes tools/bench/results/NAME.svg; returns its path. */
export function writeBenchChart(name: string, title: string, unit: string, groups: BarGroup[]): string {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = path.join(RESULTS_DIR, `${name}.svg`);
  const date = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const subtitle = `npm run bench -- ${name.replace(/-4g$/, ' --4g')}; ${date} UTC; ${os.cpus().length} CPUs, shared (noisy)`;
  writeFileSync(file, barChartSvg({ title, subtitle, unit, groups }));
  return file;
}

/**
 * The migration benches' chart: each contender's total seconds, and the guest's pause in units
 * of 10 ms so that both groups share one axis. Writes results/NAME.svg and returns its path.
 */
export function writeMigrationChart<R>(
  name: string,
  title: string,
  runs: { readonly [who: string]: readonly R[] },
  figures: (r: R) => { seconds: number; pausedMs: number },
): string {
  const group = (label: string, pick: (r: R) => number): BarGroup => ({
    label,
    bars: Object.entries(runs).map(([who, rs]) => bar(who, rs.map(pick))),
  });
  return writeBenchChart(name, title, 'seconds (lower is better)', [
    group('total', (r) => figures(r).seconds),
    group('guest paused (x10 ms)', (r) => figures(r).pausedMs / 10_000),
  ]);
}
