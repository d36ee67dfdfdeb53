import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { DomainRecord } from '../store/domain-record.js';
import { readProcStat } from '../host/process-info.js';
import { domainPaths } from '../store/domain-paths.js';
import { startFakeQemu } from '../testing/fake-qemu.js';
import { killQemu, pollPauses, waitForQemuExit } from './destroy.js';

const children: ChildProcess[] = [];

const paths = domainPaths('/nonexistent/xl-state', 1);

/** A stand-in for a domain's QEMU: a real process, recorded the way startDomain records QEMU. */
async function fakeQemu(): Promise<{ record: DomainRecord; child: ChildProcess }> {
  const { child, qemu } = await startFakeQemu(paths);
  children.push(child);
  const record = {
    id: 1,
    name: 'd',
    uuid: '00000000-0000-4000-8000-000000000075',
    status: 'running',
    createdAt: '',
    config: {} as DomainRecord['config'],
    qemu,
  } as DomainRecord;
  return { record, child };
}

/** A process of someone else's: a `sleep`, alive, with its real start time. */
async function foreignProcess(): Promise<{ pid: number; startTime: number; child: ChildProcess }> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn');
  const pid = child.pid as number;
  return { pid, startTime: readProcStat(pid)?.startTime as number, child };
}

afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('pollPauses', () => {
  it('starts at 2 ms and doubles up to the interval, then stays there', () => {
    const it50 = pollPauses(50);
    expect(Array.from({ length: 8 }, () => it50.next().value)).toEqual([2, 4, 8, 16, 32, 50, 50, 50]);
  });

  it('never exceeds an interval below 2 ms', () => {
    const it1 = pollPauses(1);
    expect([it1.next().value, it1.next().value]).toEqual([1, 1]);
  });
});

describe('waitForQemuExit and killQemu', () => {
  it('report a process that lives past the timeout as still running', async () => {
    const { record } = await fakeQemu();
    expect(await waitForQemuExit(record, 30)).toBe(false);
  });

  it('kill the process and return once it is gone (a zombie counts as gone)', async () => {
    const { record, child } = await fakeQemu();
    const exited = once(child, 'exit');
    await killQemu(paths, record);
    expect(readProcStat(record.qemu?.pid as number)?.state ?? 'gone').toMatch(/^(Z|X|gone)$/);
    await exited;
    expect(child.signalCode).toBe('SIGKILL');
    expect(await waitForQemuExit(record, 0)).toBe(true);
  });

  it('leave a process alone that the record names but xl did not start for this domain', async () => {
    const other = await foreignProcess();
    const { record } = await fakeQemu();
    const cases: [string, DomainRecord['qemu']][] = [
      // Pid and start time copied from another process: its command line gives it away.
      ['a foreign pid', { ...record.qemu!, pid: other.pid, startTime: other.startTime }],
      // ... even when the record copies that process's command line too.
      ['a foreign argv', { pid: other.pid, startTime: other.startTime, binary: 'sleep', argv: ['30'] }],
      // A real xl-shaped QEMU, but another domain's (its pid file is not this domain's).
      ['another domain', record.qemu],
    ];
    for (const [label, qemu] of cases) {
      const target = label === 'another domain' ? domainPaths('/nonexistent/xl-state', 2) : paths;
      const refused = await killQemu(target, { ...record, qemu });
      expect(refused, label).toMatch(
        /pid \d+ (does not run the command line|was not started with this domain's pid file)/,
      );
    }
    expect(other.child.exitCode).toBeNull();
    expect(readProcStat(other.pid)?.state).toMatch(/^[RSD]$/);
    expect(readProcStat(record.qemu!.pid)?.state).toMatch(/^[RSD]$/);
  });
});
