import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import type { DomainRecord } from '../store/domain-record.js';
import { readProcStat } from '../host/process-info.js';
import { killQemu, pollPauses, waitForQemuExit } from './destroy.js';

const children: ChildProcess[] = [];

/** A stand-in for a domain's QEMU: a real process, recorded the way startDomain records QEMU. */
async function fakeQemu(): Promise<{ record: DomainRecord; child: ChildProcess }> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  children.push(child);
  await once(child, 'spawn');
  const pid = child.pid as number;
  const startTime = readProcStat(pid)?.startTime as number;
  const record = {
    id: 1,
    name: 'd',
    uuid: '00000000-0000-4000-8000-000000000075',
    status: 'running',
    createdAt: '',
    config: {} as DomainRecord['config'],
    qemu: { pid, startTime, binary: 'sleep', argv: ['30'] },
  } as DomainRecord;
  return { record, child };
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
    await killQemu(record);
    expect(readProcStat(record.qemu?.pid as number)?.state ?? 'gone').toMatch(/^(Z|X|gone)$/);
    await exited;
    expect(child.signalCode).toBe('SIGKILL');
    expect(await waitForQemuExit(record, 0)).toBe(true);
  });
});
