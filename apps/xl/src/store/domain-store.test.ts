import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { DomainStore, openStore } from './domain-store.js';
import { XlError } from '../errors.js';
import { resolveStateDir } from './state-dir.js';
import { testDomainConfig } from '../testing/domain-config.js';
import { existsSync } from 'node:fs';
import { newRamFilePath } from './ram-file.js';

const config = testDomainConfig();

let dir: string;
let store: DomainStore;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'xl-store-'));
  store = await openStore(path.join(dir, 'state'), {});
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('openStore', () => {
  it('creates the state directory with mode 0700', async () => {
    expect((await stat(store.root)).mode & 0o777).toBe(0o700);
    expect(store.root).toBe(path.join(dir, 'state'));
  });

  it('chooses --state-dir, then XL_STATE_DIR, then /run/xl for root, else XDG_RUNTIME_DIR/xl', () => {
    expect(resolveStateDir('/a', { XL_STATE_DIR: '/b' }, 1000)).toBe('/a');
    expect(resolveStateDir(undefined, { XL_STATE_DIR: '/b' }, 1000)).toBe('/b');
    expect(resolveStateDir(undefined, {}, 0)).toBe('/run/xl');
    expect(resolveStateDir(undefined, { XDG_RUNTIME_DIR: '/run/user/1000' }, 1000)).toBe('/run/user/1000/xl');
    expect(() => resolveStateDir(undefined, {}, 1000)).toThrow(XlError);
  });
});

describe('DomainStore', () => {
  it('allocates increasing ids, one directory each, and never reuses an id', async () => {
    const a = await store.allocate({ name: 'a', uuid: '00000000-0000-4000-8000-000000000075', config });
    const b = await store.allocate({ name: 'b', uuid: '00000000-0000-4000-8000-000000000075', config });
    expect([a.id, b.id]).toEqual([1, 2]);
    expect(a.config.name).toBe('a');
    expect(a.status).toBe('creating');
    expect(a.ownerPid).toBe(process.pid);
    expect((await stat(store.paths(a.id).dir)).mode & 0o777).toBe(0o700);
    expect(await store.remove(b.id)).toBe(true);
    const c = await store.allocate({ name: 'c', uuid: '00000000-0000-4000-8000-000000000075', config });
    expect(c.id).toBe(3);
    expect((await store.list()).map((d) => d.name)).toEqual(['a', 'c']);
  });

  it('refuses a second domain with the same name', async () => {
    await store.allocate({ name: 'a', uuid: '00000000-0000-4000-8000-000000000075', config });
    await expect(
      store.allocate({ name: 'a', uuid: '00000000-0000-4000-8000-000000000076', config }),
    ).rejects.toMatchObject({
      code: 'XL_DOMAIN_EXISTS',
    });
  });

  it('updates atomically and enforces unique names on rename', async () => {
    const a = await store.allocate({ name: 'a', uuid: '00000000-0000-4000-8000-000000000075', config });
    await store.allocate({ name: 'b', uuid: '00000000-0000-4000-8000-000000000075', config });
    const renamed = await store.update(a.id, (r) => ({ ...r, name: 'a2', status: 'paused' }));
    expect(renamed).toMatchObject({ name: 'a2', status: 'paused', config: { name: 'a2' } });
    expect(await store.get(a.id)).toEqual(renamed);
    await expect(store.update(a.id, (r) => ({ ...r, name: 'b' }))).rejects.toMatchObject({
      code: 'XL_DOMAIN_EXISTS',
    });
    await expect(store.update(99, (r) => r)).rejects.toMatchObject({ code: 'XL_DOMAIN_NOT_FOUND' });
    const leftovers = (await readdir(store.paths(a.id).dir)).filter((f) => f.includes('.tmp-'));
    expect(leftovers).toEqual([]);
  });

  it('remove with a guard only removes when the guard holds', async () => {
    const a = await store.allocate({ name: 'a', uuid: '00000000-0000-4000-8000-000000000075', config });
    expect(await store.remove(a.id, (r) => r?.status === 'running')).toBe(false);
    expect(await store.get(a.id)).toBeDefined();
    expect(await store.remove(a.id, (r) => r?.status === 'creating')).toBe(true);
    expect(await store.get(a.id)).toBeUndefined();
    expect(await store.remove(a.id)).toBe(false);
  });

  it("removes a shared-memory domain's RAM file with its record, unless another record owns it now", async () => {
    const owned = newRamFilePath();
    const lent = newRamFilePath();
    await writeFile(owned, 'ram');
    await writeFile(lent, 'ram');
    const a = await store.allocate({
      name: 'a',
      uuid: '00000000-0000-4000-8000-000000000075',
      config,
      ramFile: { path: owned, owner: true },
    });
    const b = await store.allocate({
      name: 'b',
      uuid: '00000000-0000-4000-8000-000000000076',
      config,
      ramFile: { path: lent, owner: false },
    });
    expect(await store.remove(a.id)).toBe(true);
    expect(existsSync(owned)).toBe(false);
    expect(await store.remove(b.id)).toBe(true);
    expect(existsSync(lent)).toBe(true);
    await rm(lent);
  });

  it('reports a corrupt record as an XL_STATE error naming the file', async () => {
    const a = await store.allocate({ name: 'a', uuid: '00000000-0000-4000-8000-000000000075', config });
    await writeFile(store.paths(a.id).record, '{"id": "one"}');
    await expect(store.list()).rejects.toMatchObject({
      code: 'XL_STATE',
      message: expect.stringContaining('domain.json: bad id'),
    });
    await writeFile(store.paths(a.id).record, '{not json');
    await expect(store.get(a.id)).rejects.toMatchObject({
      code: 'XL_STATE',
      message: expect.stringContaining('not JSON'),
    });
  });

  it('serializes concurrent writers on separate store instances', async () => {
    const stores = Array.from({ length: 6 }, () => new DomainStore(store.root));
    const records = await Promise.all(
      stores.flatMap((s, i) =>
        [0, 1, 2].map((j) =>
          s.allocate({ name: `d${i}-${j}`, uuid: '00000000-0000-4000-8000-000000000075', config }),
        ),
      ),
    );
    const ids = records.map((r) => r.id).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    // Concurrent read-modify-write of one record loses no update.
    const target = records[0]!;
    await Promise.all(
      stores.map((s) =>
        s.update(target.id, (r) => ({ ...r, config: { ...r.config, memory: r.config.memory + 1 } })),
      ),
    );
    expect((await store.get(target.id))?.config.memory).toBe(64 + 6);
    // Concurrent creates of the same name: exactly one wins.
    const results = await Promise.allSettled(
      stores.map((s) => s.allocate({ name: 'same', uuid: '00000000-0000-4000-8000-000000000075', config })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  });

  it('serializes concurrent writers in separate processes', async () => {
    const worker = fileURLToPath(new URL('../testing/allocate-worker.ts', import.meta.url));
    const runs = await Promise.all(
      ['p', 'q', 'r'].map((prefix) => execa('node', ['--import', 'tsx', worker, store.root, prefix, '4'])),
    );
    const ids = runs.flatMap((r) => JSON.parse(String(r.stdout)) as number[]).sort((a, b) => a - b);
    expect(ids).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    const all = await store.list();
    expect(all).toHaveLength(12);
    expect(all.every((d) => d.status === 'running')).toBe(true);
    expect(await readFile(path.join(store.root, 'next-id'), 'utf8')).toBe('13\n');
    // Three node processes loading the store through tsx: seconds of start-up on a busy 2-core host.
  }, 60_000);

  it('breaks a lock left by a dead process', async () => {
    const dead = await execa('node', ['-e', 'process.stdout.write(String(process.pid))']);
    await writeFile(path.join(store.root, 'lock'), `${String(dead.stdout)} deadbeef\n`);
    const a = await store.allocate({ name: 'a', uuid: '00000000-0000-4000-8000-000000000075', config });
    expect(a.id).toBe(1);
  }, 30_000);

  it('waits for a lock held by a live holder', async () => {
    const order: string[] = [];
    let release!: () => void;
    const held = store.locked(async () => {
      order.push('first in');
      await new Promise<void>((r) => (release = r));
      order.push('first out');
    });
    while (order.length === 0) await new Promise((r) => setImmediate(r));
    const second = new DomainStore(store.root).locked(async () => void order.push('second'));
    await new Promise((r) => setTimeout(r, 100));
    release();
    await Promise.all([held, second]);
    expect(order).toEqual(['first in', 'first out', 'second']);
  });

  it('rejects a state directory too deep for unix socket paths', async () => {
    const deep = await openStore(path.join(dir, 'x'.repeat(90)), {});
    await expect(
      deep.allocate({ name: 'a', uuid: '00000000-0000-4000-8000-000000000075', config }),
    ).rejects.toMatchObject({
      code: 'XL_STATE',
      message: expect.stringContaining('longer than 107'),
    });
  });
});
