/**
 * `--timeline FILE.svg` of save, restore and migrate: records what the progress reporter is
 * told and, once the operation ended (well or not), writes the chart of it to FILE.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ProgressReporter } from '../progress/reporter.js';
import { TimelineRecorder } from '../progress/timeline.js';
import { timelineSvg } from '../progress/timeline-chart.js';
import { UsageError } from '../errors.js';
import type { CommandIo } from '../command.js';
import { warn } from './common.js';

export const TIMELINE_HELP =
  'Write a chart of the operation over time (phases, rates, remaining RAM, downtime) to FILE as SVG';

export class TimelineOption {
  private constructor(
    readonly file: string,
    readonly recorder: TimelineRecorder,
  ) {}

  /** Starts recording when the option was given (undefined otherwise). */
  static start(value: unknown, progress: ProgressReporter): TimelineOption | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value === '') throw new UsageError('--timeline needs a file name');
    const t = new TimelineOption(path.resolve(value), new TimelineRecorder());
    progress.observe(t.recorder);
    return t;
  }

  /** Marks the guest's pause: from the start of phase `from` (or a wall-clock ms stamp) for `seconds` (or to the end). */
  markPause(label: string, from: string | { wallMs: number }, seconds?: number): void {
    const r = this.recorder;
    const start = typeof from === 'string' ? r.phaseStart(from) : r.fromWallClock(from.wallMs);
    if (start !== undefined) r.mark(label, start, seconds === undefined ? r.elapsed : start + seconds);
  }

  /** Writes the chart; a failure to write it is a warning, never the operation's failure. */
  async write(io: CommandIo, title: string): Promise<void> {
    try {
      await writeFile(this.file, timelineSvg(this.recorder.finish(title)));
    } catch (err) {
      warn(
        io,
        `could not write the timeline ${this.file}: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
}
