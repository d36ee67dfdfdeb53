import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { openStore, type DomainStore } from '../store/domain-store.js';
import { validateRecord, type DomainRecord } from '../store/domain-record.js';
import { readProcStat } from '../host/process-info.js';
import { testDomainConfig } from '../testing/domain-config.js';
import { clearMigrationMark, markMigration } from './migration-mark.js';
import { recoverAbandonedMigrations } from './recover-migration.js';

let dir: string;
let store: DomainStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'xl-recover-'));
  store = await openStore(path.join(dir, 'state'), {});
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function domain(): Promise<DomainRecord> {
  const config = testDomainConfig('vm1');
  const r = await store.allocate({
    name: 'vm1',
    uuid: '6f0c2b1e-8a4d-4c3e-9b7a-2d5e1f0a3c4b',
    config,
    status: 'running',
  });
  return store.update(r.id, ({ ownerPid: _o, ...rest }) => rest);
}

/** A pid that existed and is gone now, with the start time it had. */
async function deadProcess(): Promise<{ pid: number; startTime: number }> {
  const child = execa('sleep', ['10']);
  const pid = child.pid!;
  const startTime = readProcStat(pid)!.startTime;
  child.kill('SIGKILL');
  await child.catch(() => undefined);
  return { pid, startTime };
}

describe('the migration mark', () => {
  it('is written with this process and its start time, and removed by the same process only', async () => {
    const d = await domain();
    await markMigration(store, d, 'host-b');
    const marked = (await store.get(d.id))!;
    expect(marked.migration).toEqual({
      pid: process.pid,
      startTime: readProcStat(process.pid)!.startTime,
      host: 'host-b',
      wasName: 'vm1',
      wasStatus: 'running',
      wasRunning: true,
      pastGo: false,
    });
    // Another process's mark is not this one's to clear.
    await store.update(d.id, (r) => ({ ...r, migration: { ...r.migration!, pid: 1 } }));
    await clearMigrationMark(store, d.id);
    expect((await store.get(d.id))!.migration?.pid).toBe(1);
    await store.update(d.id, (r) => ({ ...r, migration: { ...r.migration!, pid: process.pid } }));
    await clearMigrationMark(store, d.id);
    expect((await store.get(d.id))!.migration).toBeUndefined();
  });

  it('is checked when read back: a record with a malformed mark is refused', () => {
    const base = {
      id: 1,
      name: 'x',
      uuid: '6f0c2b1e-8a4d-4c3e-9b7a-2d5e1f0a3c4b',
      status: 'running',
      config: testDomainConfig('x'),
    };
    expect(() => validateRecord({ ...base, migration: { pid: 'x' } }, 'f')).toThrow(/bad migration mark/);
    expect(() => validateRecord({ ...base, migration: null }, 'f')).toThrow(/bad migration mark/);
  });
});

describe('recoverAbandonedMigrations', () => {
  it('leaves a migration whose sender runs alone', async () => {
    const d = await domain();
    await markMigration(store, d, 'host-b');
    expect(await recoverAbandonedMigrations(store, await store.list())).toEqual([]);
    expect((await store.get(d.id))!.migration).toBeDefined();
  });

  it('a recycled pid (same pid, another start time) is not the sender', async () => {
    const d = await domain();
    await markMigration(store, d, 'host-b');
    await store.update(d.id, (r) => ({ ...r, migration: { ...r.migration!, startTime: 1 } }));
    // No QEMU to roll back: the rollback part reports it, the mark still goes.
    const [message] = await recoverAbandonedMigrations(store, await store.list());
    expect(message).toMatch(
      /pid \d+\) went away before the point of no return; migration cancelled, domain not resumed/,
    );
    expect((await store.get(d.id))!.migration).toBeUndefined();
  });

  it('past GO: the copy stays NAME--migratedaway, the mark and the dead sender’s sockets go, one message says where to look', async () => {
    const d = await domain();
    const dead = await deadProcess();
    await store.update(d.id, (r) => ({
      ...r,
      name: 'vm1--migratedaway',
      status: 'migrated-away',
      migration: {
        ...dead,
        host: 'host-b',
        wasName: 'vm1',
        wasStatus: 'running',
        wasRunning: true,
        pastGo: true,
      },
    }));
    const control = store.paths(d.id).migrationControl;
    await writeFile(control, '');
    const messages = await recoverAbandonedMigrations(store, await store.list());
    expect(messages).toEqual([
      `domain 'vm1--migratedaway' (id ${d.id}): the xl migrate of it to host-b (pid ${dead.pid}) went away after the point of no return; ` +
        'the domain may be running on host-b; this copy is kept paused and will not be resumed: check host-b, then destroy one copy',
    ]);
    const after = (await store.get(d.id))!;
    expect(after).toMatchObject({ name: 'vm1--migratedaway', status: 'migrated-away' });
    expect(after.migration).toBeUndefined();
    expect(existsSync(control)).toBe(false);
    // Said once: the next command finds nothing more to do.
    expect(await recoverAbandonedMigrations(store, await store.list())).toEqual([]);
  });

  it("names a dead xl upgrade as such, and where to look after its point of no return: 'xl list'", async () => {
    const d = await domain();
    const dead = await deadProcess();
    await markMigration(store, d, 'QEMU 10.0.2', false, 'upgrade');
    expect((await store.get(d.id))!.migration?.command).toBe('upgrade');
    await store.update(d.id, (r) => ({
      ...r,
      name: 'vm1--migratedaway',
      status: 'migrated-away',
      migration: { ...r.migration!, ...dead, pastGo: true },
    }));
    expect(await recoverAbandonedMigrations(store, await store.list())).toEqual([
      `domain 'vm1--migratedaway' (id ${d.id}): the xl upgrade of it to QEMU 10.0.2 (pid ${dead.pid}) went away after the point of no return; ` +
        "the domain may be running on QEMU 10.0.2; this copy is kept paused and will not be resumed: check 'xl list', then destroy one copy",
    ]);
  });
});
