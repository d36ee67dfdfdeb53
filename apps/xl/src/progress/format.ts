/** Pure formatting of transfer progress: sizes, rates, durations and the one-line TTY status. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** 1536 → "1.5 KiB"; bytes below 1 KiB are shown exactly. */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '?';
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u += 1;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

/** Bytes per second as MiB/s (one decimal). */
export function formatRate(bytesPerSecond: number): string {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) return '? MiB/s';
  return `${(bytesPerSecond / 1024 ** 2).toFixed(1)} MiB/s`;
}

/** Seconds as m:ss or h:mm:ss (rounded up, so "0:00" only when done). */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.ceil(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** What the reporter knows at one instant. */
export interface ProgressSnapshot {
  operation: string;
  phase: string;
  bytes: number;
  /** Expected total bytes, when known (e.g. the size of the file being restored). */
  total?: number;
  /** Bytes still to go, when known better than total − bytes (e.g. QEMU's remaining RAM). */
  remaining?: number;
  /** Seconds since the phase started. */
  elapsed: number;
}

export function rateOf(s: Pick<ProgressSnapshot, 'bytes' | 'elapsed'>): number {
  return s.elapsed > 0 ? s.bytes / s.elapsed : 0;
}

/** Seconds left, or undefined when nothing tells how much is left or no rate is known yet. */
export function etaOf(s: ProgressSnapshot): number | undefined {
  const left = s.remaining ?? (s.total !== undefined ? Math.max(0, s.total - s.bytes) : undefined);
  const rate = rateOf(s);
  if (left === undefined || rate <= 0) return undefined;
  return left / rate;
}

/**
 * A status line cut to a terminal `columns` wide, ending in '…' when cut. It stays one column
 * short of the edge: a line that fills the last column wraps on many terminals, and the next
 * '\r' then rewrites only the second row, leaving a stale copy of the first above it.
 */
export function fitToWidth(line: string, columns: number | undefined): string {
  if (columns === undefined || !Number.isFinite(columns) || columns < 2) return line;
  const room = columns - 1;
  const chars = Array.from(line);
  return chars.length <= room ? line : `${chars.slice(0, room - 1).join('')}…`;
}

/** "save ram: 512.0 MiB / 1.0 GiB (50%), 312.4 MiB/s, ETA 0:02" */
export function formatProgressLine(s: ProgressSnapshot): string {
  let done = formatBytes(s.bytes);
  if (s.total !== undefined && s.total > 0) {
    done += ` / ${formatBytes(s.total)} (${Math.min(100, Math.floor((s.bytes / s.total) * 100))}%)`;
  }
  const eta = etaOf(s);
  return `${s.operation} ${s.phase}: ${done}, ${formatRate(rateOf(s))}${eta === undefined ? '' : `, ETA ${formatDuration(eta)}`}`;
}
