/**
 * CPU time from /proc, in seconds. Linux reports it in clock ticks of 1/100 s (USER_HZ, which
 * is 100 on every architecture this project runs on).
 */
import { readFileSync } from 'node:fs';

const TICK_SECONDS = 0.01;

/** The fields of /proc/PID/stat after the command name (which may hold spaces): [0] is field 3, the state. */
function statFields(pid: number | 'self'): string[] {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).trim().split(' ');
}

/** User + system time of a live process (all its threads). */
export function processCpuSeconds(pid: number): number {
  const f = statFields(pid);
  return (Number(f[11]) + Number(f[12])) * TICK_SECONDS;
}

/**
 * User + system time of every child this process has reaped, and of the children they reaped
 * in turn: read before and after a child's run, the difference is what that run cost (an
 * `xl migrate` and the receiver it started; not the QEMUs, which daemonize away from it).
 */
export function reapedChildrenCpuSeconds(): number {
  const f = statFields('self');
  return (Number(f[13]) + Number(f[14])) * TICK_SECONDS;
}
