// Lifecycle functions against the fake QMP server and a stand-in QEMU process (real QEMU: test/lifecycle.test.ts).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { testing } from '@xlkit/qmp';
import { openStore, type DomainStore } from '../store/domain-store.js';
import type { DomainRecord } from '../store/domain-record.js';
import { creationMarker, identifyFile } from '../host/file-identity.js';
import { readProcCmdline, readProcStat } from '../host/process-info.js';
import { fakeQemuArgv } from '../testing/fake-qemu.js';
import { pauseDomain, renameDomain, shutdownDomain, unpauseDomain } from './control.js';
import { destroyDomain } from './destroy.js';
import { describeDomain } from './describe.js';
import { connectQmp } from './qmp.js';
import { reapDomains } from './reap.js';
import { resolveDomain } from './resolve.js';
import { startDomain } from './start.js';
import { testDomainConfig } from '../testing/domain-config.js';

const config = testDomainConfig();

let dir: string;
let store: DomainStore;
const children: ResultPromise[] = [];
const servers: testing.FakeQmpServer[] = [];

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'xl-life-'));
  store = await openStore(path.join(dir, 's'), {});
});
afterEach(async () => {
  for (const c of children.splice(0)) c.kill('SIGKILL');
  await Promise.allSettled(children);
  for (const s of servers.splice(0)) await s.close();
  await rm(dir, { recursive: true, force: true });
});

/** A domain whose "QEMU" is an idle node process and whose QMP socket is a fake server. */
async function fakeDomain(name: string, handlers: Record<string, testing.FakeHandler> = {}, silent = false) {
  const allocated = await store.allocate({ name, uuid: '00000000-0000-4000-8000-000000000075', config });
  const argv = fakeQemuArgv(store.paths(allocated.id));
  const child = execa('node', argv, { reject: false });
  children.push(child);
  const pid = child.pid!;
  let stat = readProcStat(pid);
  while (!stat || readProcCmdline(pid)?.[1] !== argv[0]) stat = readProcStat(pid);
  const record = await store.update(allocated.id, (r) => ({
    ...r,
    status: 'running',
    qemu: { pid, startTime: stat.startTime, binary: 'node', argv },
  }));
  let status = 'running';
  const server = await testing.FakeQmpServer.start({
    socketPath: store.paths(record.id).qmp,
    silent,
    handlers: {
      'query-status': () => ({ status, running: status === 'running' }),
      stop: () => ((status = 'paused'), {}),
      cont: () => ((status = 'running'), {}),
      ...handlers,
    },
  });
  servers.push(server);
  return { record, child, server };
}

describe('domain lifecycle functions', () => {
  it('pauses and unpauses through QMP and records the status', async () => {
    const { record, server } = await fakeDomain('a');
    expect((await pauseDomain(store, record)).status).toBe('paused');
    expect(await describeDomain(store, record)).toMatchObject({
      status: 'paused',
      statusSource: 'qmp',
      state: '--p---',
    });
    expect((await unpauseDomain(store, record)).status).toBe('running');
    expect(server.commands.map((c) => c.execute).filter((c) => c !== 'qmp_capabilities')).toEqual([
      'stop',
      'query-status',
      'cont',
    ]);
  });

  it('falls back to the recorded status when QMP does not answer', async () => {
    const { record } = await fakeDomain('busy', {}, true);
    expect(await describeDomain(store, record)).toMatchObject({
      status: 'running',
      statusSource: 'record',
      state: 'r-----',
    });
  });

  it('shutdown -w waits for QEMU to exit, then removes the state', async () => {
    const { record, child } = await fakeDomain('s', { system_powerdown: () => (child.kill('SIGKILL'), {}) });
    await shutdownDomain(store, record, { wait: true });
    expect(await store.get(record.id)).toBeUndefined();
  });

  it('destroy kills QEMU and removes the state', async () => {
    const { record, child } = await fakeDomain('d');
    await destroyDomain(store, record);
    const result = await child;
    expect(result.signal).toBe('SIGKILL');
    expect(await readdir(path.join(store.root, 'domains'))).toEqual([]);
  });

  it('reaps a domain whose QEMU died, and refuses QMP to it', async () => {
    const { record, child } = await fakeDomain('dead');
    const { record: other } = await fakeDomain('alive');
    child.kill('SIGKILL');
    await child;
    await expect(connectQmp(store, record)).rejects.toMatchObject({ code: 'XL_DOMAIN_DEAD' });
    const { live, reaped } = await reapDomains(store);
    expect(live.map((d) => d.id)).toEqual([other.id]);
    expect(reaped).toHaveLength(1);
    expect(reaped[0]?.reason).toMatch(/QEMU process \(pid \d+\) has exited/);
    await expect(resolveDomain(store, 'dead')).rejects.toMatchObject({ code: 'XL_DOMAIN_NOT_FOUND' });
  });

  it('keeps a domain being created by a live xl, reaps one whose creator died', async () => {
    const mine = await store.allocate({
      name: 'creating',
      uuid: '00000000-0000-4000-8000-000000000075',
      config,
    });
    const orphan = await store.allocate({
      name: 'orphan',
      uuid: '00000000-0000-4000-8000-000000000075',
      config,
    });
    const gone = await execa('node', ['-e', 'process.stdout.write(String(process.pid))']);
    await store.update(orphan.id, (r) => ({ ...r, ownerPid: Number(gone.stdout) }));
    const { live, reaped } = await reapDomains(store);
    expect(live.map((d) => d.id)).toEqual([mine.id]);
    expect(reaped.map((r) => r.record.id)).toEqual([orphan.id]);
    expect(reaped[0]?.reason).toMatch(/xl process creating it .* went away/);
  });

  it("names the dead owner of an incoming domain: xl migrate-receive, or xl upgrade's in-process receiver", async () => {
    const gone = Number((await execa('node', ['-e', 'process.stdout.write(String(process.pid))'])).stdout);
    const received = await store.allocate({
      name: 'received--incoming',
      uuid: '00000000-0000-4000-8000-000000000076',
      config,
      status: 'incoming',
    });
    const upgraded = await store.allocate({
      name: 'upgraded--incoming',
      uuid: '00000000-0000-4000-8000-000000000077',
      config,
      status: 'incoming',
      receivedBy: 'upgrade',
    });
    for (const r of [received, upgraded]) await store.update(r.id, (x) => ({ ...x, ownerPid: gone }));
    const { reaped } = await reapDomains(store);
    expect(Object.fromEntries(reaped.map((r) => [r.record.name, r.reason]))).toEqual({
      'received--incoming': `the xl migrate-receive receiving it (pid ${gone}) went away`,
      'upgraded--incoming': `the xl upgrade receiving it (pid ${gone}) went away`,
    });
  });

  it('reaps a dead -q receiver: its images go with the markers that name them, no other', async () => {
    const disks = path.join(dir, 'disks');
    await mkdir(disks, { mode: 0o700 });
    const image = async (name: string) => {
      const file = path.join(disks, name);
      await writeFile(file, 'half a disk');
      const st = await stat(file);
      await writeFile(creationMarker(file), `${st.dev}:${st.ino}\n`);
      return file;
    };
    const [a, b, spare] = [await image('a.raw'), await image('b.raw'), await image('spare.raw')];
    // b's marker names another image (spare's, copied over it): it proves nothing about b.
    await writeFile(creationMarker(b), await readFile(creationMarker(spare), 'utf8'));
    const orphan = await store.allocate({
      name: 'mq--incoming',
      uuid: '00000000-0000-4000-8000-000000000075',
      config,
      createdDisks: [a, b],
    });
    const createdFiles = [(await identifyFile(a))!, (await identifyFile(b))!];
    const gone = await execa('node', ['-e', 'process.stdout.write(String(process.pid))']);
    await store.update(orphan.id, (r) => ({ ...r, ownerPid: Number(gone.stdout), createdFiles }));
    const { reaped } = await reapDomains(store);
    expect(reaped.map((r) => r.record.id)).toEqual([orphan.id]);
    // Both recorded images go; a's marker with a; b's marker, naming spare, stays.
    expect((await readdir(disks, { withFileTypes: true })).map((e) => e.name).sort()).toEqual([
      '.b.raw.xl-target',
      '.spare.raw.xl-target',
      'spare.raw',
    ]);
  });

  it('renames, resolving by id or name, and rejects bad or taken names', async () => {
    const { record } = await fakeDomain('old');
    await fakeDomain('taken');
    const renamed: DomainRecord = await renameDomain(
      store,
      await resolveDomain(store, String(record.id)),
      'new',
    );
    expect(renamed.name).toBe('new');
    expect((await resolveDomain(store, 'new')).id).toBe(record.id);
    await expect(renameDomain(store, renamed, 'taken')).rejects.toMatchObject({ code: 'XL_DOMAIN_EXISTS' });
    await expect(renameDomain(store, renamed, '42')).rejects.toMatchObject({ code: 'XL_CONFIG' });
  });

  it('reports a QEMU that fails to start with its message and leaves no state', async () => {
    const qemu = path.join(dir, 'bad-qemu');
    await writeFile(
      qemu,
      '#!/bin/sh\necho "qemu-system-x86_64: -accel tcg: invalid accelerator" >&2\nexit 1\n',
    );
    await chmod(qemu, 0o755);
    await expect(startDomain(store, { ...config, name: 'nope', deviceModel: qemu })).rejects.toMatchObject({
      code: 'XL_QEMU_FAILED',
      message: "QEMU failed to start domain 'nope': qemu-system-x86_64: -accel tcg: invalid accelerator",
    });
    expect(await store.list()).toEqual([]);
    await expect(
      startDomain(store, { ...config, name: 'nobin', deviceModel: path.join(dir, 'missing') }),
    ).rejects.toMatchObject({
      code: 'XL_QEMU_FAILED',
      message: expect.stringContaining('not found'),
    });
  });
});
