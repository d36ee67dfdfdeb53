// The faults themselves, applied from outside xl while the pipe wrapper holds the stream still.
import { readFileSync, statfsSync } from 'node:fs';
import path from 'node:path';
import type { ResultPromise } from 'execa';
import { execa } from 'execa';
import { records, type XlHost } from '../xl-rig.js';
import type { Fault } from './matrix.js';

export interface Pids {
  wrapper: number;
  receiver: number;
}

export const readPids = (ctl: string): Pids =>
  JSON.parse(readFileSync(path.join(ctl, 'pids.json'), 'utf8')) as Pids;

export interface Scene {
  a: XlHost;
  b: XlHost;
  sender: ResultPromise;
  pids: Pids;
  /** The destination's own file systems (tmpfs mounted by the test), for ENOSPC and read-only. */
  destFs: string[];
}

function kill(pid: number | undefined, what: string): void {
  if (pid === undefined) throw new Error(`no ${what} to kill`);
  process.kill(pid, 'SIGKILL');
}

/** Fills a file system to the last block (a file `fill` at its root). */
async function fill(dir: string): Promise<void> {
  const s = statfsSync(dir);
  const free = s.bavail * s.bsize;
  if (free > 0) await execa('fallocate', ['-l', String(free), path.join(dir, 'fill')], { reject: false });
  // Whatever fallocate could not take (metadata), byte by byte until ENOSPC.
  await execa('dd', ['if=/dev/zero', `of=${path.join(dir, 'fill2')}`, 'bs=4k'], { reject: false });
}

/** Applies `fault`; returns whether the held wrapper must be continued. */
export async function inject(fault: Fault, s: Scene): Promise<boolean> {
  switch (fault) {
    case 'receiver SIGKILL':
      kill(s.pids.receiver, 'receiver');
      return true;
    case 'receiver QEMU SIGKILL':
      kill(records(s.b.stateDir).find((d) => d.qemu)?.qemu?.pid, 'receiver QEMU');
      return true;
    case 'source QEMU SIGKILL':
      kill(records(s.a.stateDir).find((d) => d.qemu)?.qemu?.pid, 'source QEMU');
      return true;
    case 'sender SIGINT':
      s.sender.kill('SIGINT');
      return true;
    case 'sender SIGKILL':
      s.sender.kill('SIGKILL');
      return true;
    case 'pipe cut':
      kill(s.pids.wrapper, 'pipe');
      return false;
    case 'ENOSPC on destination':
      for (const d of s.destFs) await fill(d);
      return true;
    case 'state dir unwritable':
      // A read-only bind mount over the dir: root cannot write through it either, while the
      // files QEMU already has open (its logs, on the mount below) stay writable.
      for (const d of s.destFs) {
        await execa('mount', ['--bind', d, d]);
        await execa('mount', ['-o', 'remount,bind,ro', d]);
      }
      return true;
    default:
      return true;
  }
}

/** What the operator does once the fault is seen: space freed, the file system writable again. */
export async function repair(fault: Fault, destFs: string[]): Promise<void> {
  if (fault === 'state dir unwritable')
    for (const d of destFs) await execa('umount', ['-l', d], { reject: false });
  if (fault === 'ENOSPC on destination')
    for (const d of destFs) await execa('rm', ['-f', path.join(d, 'fill'), path.join(d, 'fill2')]);
}
