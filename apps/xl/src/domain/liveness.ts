/** Is a domain's QEMU still there, is it really the one xl started, and what did it leave behind? */
import { readFile } from 'node:fs/promises';
import { isProcessAlive, readProcCmdline } from '../host/process-info.js';
import { escapeOptValue } from '../qemu/argv.js';
import type { DomainPaths } from '../store/domain-paths.js';
import type { DomainRecord } from '../store/domain-record.js';
import type { DomainStore } from '../store/domain-store.js';

export function isQemuAlive(record: DomainRecord): boolean {
  return record.qemu !== undefined && isProcessAlive(record.qemu.pid, record.qemu.startTime);
}

/**
 * Why the process a record names is not proven to be the QEMU xl started for this domain, or
 * undefined when it is: alive with the recorded start time, running exactly the recorded argv,
 * and that argv names this domain's own pid file and QMP socket (`paths`, derived from the
 * state dir and id, not from the record). A record is only data; xl signals nothing it names
 * without this proof.
 */
export function notOurQemu(paths: DomainPaths, record: DomainRecord): string | undefined {
  const q = record.qemu;
  if (q === undefined) return 'no QEMU is recorded';
  if (!isProcessAlive(q.pid, q.startTime)) return `pid ${q.pid} is not the process recorded (gone or reused)`;
  const cmdline = readProcCmdline(q.pid);
  if (cmdline === undefined) return `the command line of pid ${q.pid} cannot be read`;
  const args = cmdline.slice(1);
  const recorded = Array.isArray(q.argv) ? q.argv : [];
  if (args.length !== recorded.length || args.some((a, i) => a !== recorded[i]))
    return `pid ${q.pid} does not run the command line xl recorded for it`;
  const pidfile = args.indexOf('-pidfile');
  if (pidfile < 0 || args[pidfile + 1] !== paths.pid)
    return `pid ${q.pid} was not started with this domain's pid file ${paths.pid}`;
  const qmp = `path=${escapeOptValue(paths.qmp)},`;
  if (!args.some((a) => a.startsWith('socket,id=qmp,') && a.includes(qmp)))
    return `pid ${q.pid} does not serve this domain's QMP socket ${paths.qmp}`;
  return undefined;
}

/** The last non-empty line QEMU wrote to its log, for error messages. */
export async function lastQemuLogLine(store: DomainStore, id: number): Promise<string | undefined> {
  const text = await readFile(store.paths(id).qemuLog, 'utf8').catch(() => '');
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  const last = lines.at(-1);
  return last === undefined ? undefined : last.slice(0, 500);
}
