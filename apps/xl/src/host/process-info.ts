/** What /proc says about a process: liveness (pid reuse and zombies count as dead) and CPU time. */
import { readFileSync } from 'node:fs';

export interface ProcStat {
  state: string;
  /** Clock ticks since boot when the process started: with the pid, identifies a process. */
  startTime: number;
  /** User + system CPU time in seconds. */
  cpuSeconds: number;
  /** User + system CPU time of the children it has reaped (and theirs, in turn), in seconds. */
  reapedChildrenCpuSeconds: number;
}

const CLOCK_TICKS = 100;

/** Parses /proc/<pid>/stat; undefined when the process does not exist. */
export function readProcStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // comm (field 2) may contain spaces and parentheses: fields resume after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const num = (i: number): number => Number(fields[i] ?? NaN);
  const state = fields[0];
  if (state === undefined || Number.isNaN(num(19))) return undefined;
  return {
    state,
    startTime: num(19),
    cpuSeconds: (num(11) + num(12)) / CLOCK_TICKS,
    reapedChildrenCpuSeconds: (num(13) + num(14)) / CLOCK_TICKS,
  };
}

/** True when `pid` runs (not a zombie) and, when given, started at `startTime`. */
export function isProcessAlive(pid: number, startTime?: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  const st = readProcStat(pid);
  if (st === undefined) {
    try {
      process.kill(pid, 0);
      return startTime === undefined;
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }
  if (st.state === 'Z' || st.state === 'X') return false;
  return startTime === undefined || st.startTime === startTime;
}

/** /proc/<pid>/cmdline as an argv; undefined when unreadable or empty (gone, a zombie, a kernel thread). */
export function readProcCmdline(pid: number): string[] | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let raw: Buffer;
  try {
    raw = readFileSync(`/proc/${pid}/cmdline`);
  } catch {
    return undefined;
  }
  if (raw.length === 0) return undefined;
  const text = raw.toString('utf8');
  return (text.endsWith('\0') ? text.slice(0, -1) : text).split('\0');
}
