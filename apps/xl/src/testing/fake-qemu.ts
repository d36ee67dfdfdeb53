/**
 * For unit tests: a real, idle process standing in for a domain's QEMU, started with the
 * argv shape xl gives QEMU (this domain's pid file and QMP socket) and recorded the way
 * startDomain records QEMU, so the identity checks of liveness.ts hold for it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readProcCmdline, readProcStat } from '../host/process-info.js';
import { escapeOptValue } from '../qemu/argv.js';
import type { DomainPaths } from '../store/domain-paths.js';
import type { QemuProcessInfo } from '../store/domain-record.js';

export interface FakeQemu {
  child: ChildProcess;
  qemu: QemuProcessInfo;
}

/** The stand-in's arguments for `node`: idle for a minute, naming this domain's paths as QEMU's do. */
export function fakeQemuArgv(paths: DomainPaths): string[] {
  return [
    '-e',
    'setTimeout(() => {}, 60_000)',
    '--',
    '-chardev',
    `socket,id=qmp,path=${escapeOptValue(paths.qmp)},server=on,wait=off`,
    '-pidfile',
    paths.pid,
  ];
}

/** Starts the stand-in; the caller kills `child` (SIGKILL) when the test ends. */
export async function startFakeQemu(paths: DomainPaths): Promise<FakeQemu> {
  const argv = fakeQemuArgv(paths);
  const child = spawn(process.execPath, argv, { stdio: 'ignore' });
  await once(child, 'spawn');
  const pid = child.pid as number;
  // /proc/PID/cmdline shows the new argv only once exec has happened; wait for it.
  for (let i = 0; i < 200; i++) {
    const stat = readProcStat(pid);
    if (stat !== undefined && readProcCmdline(pid)?.includes(paths.pid) === true)
      return { child, qemu: { pid, startTime: stat.startTime, binary: process.execPath, argv } };
    await new Promise((r) => setTimeout(r, 5));
  }
  child.kill('SIGKILL');
  throw new Error('the fake QEMU did not start');
}
