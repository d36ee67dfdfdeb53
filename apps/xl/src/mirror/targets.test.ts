import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DiskPlan } from '@xlkit/stream';
import { checkFreeSpace, createTargets, removeTargets, resolveTargets } from './targets.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function setup(): Promise<{ dir: string; src: string; plan: DiskPlan }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'xlkit-targets-'));
  dirs.push(dir);
  const src = path.join(dir, 'disk.raw');
  await writeFile(src, Buffer.alloc(4096, 1));
  const st = await stat(src);
  const plan: DiskPlan = {
    hostId: 'host-1',
    transport: 'tunnel',
    syncWrites: false,
    reuseTarget: false,
    disks: [
      {
        id: 'xvda',
        format: 'raw',
        virtualSize: 1 << 20,
        allocation: 4096,
        path: src,
        dev: st.dev,
        ino: st.ino,
      },
    ],
  };
  return { dir, src, plan };
}

describe('resolveTargets', () => {
  it('refuses the very file the source uses on the same host, by path or by file identity', async () => {
    const { dir, src, plan } = await setup();
    await expect(resolveTargets(plan, 'host-1')).rejects.toThrow(/onto itself/);
    const alias = path.join(dir, 'alias');
    await import('node:fs/promises').then((fs) => fs.link(src, path.join(dir, 'alias.raw')));
    await expect(
      resolveTargets(
        { ...plan, disks: [{ ...plan.disks[0]!, path: alias + '.raw' }], reuseTarget: true },
        'host-1',
      ),
    ).rejects.toThrow(/onto itself/);
  });

  it('on another host the same path is fine when the file is not there, and refused when it exists', async () => {
    const { plan } = await setup();
    await expect(resolveTargets(plan, 'host-2')).rejects.toThrow(/already exists on the receiver/);
    const gone = { ...plan, disks: [{ ...plan.disks[0]!, path: '/nonexistent-dir-xlkit/disk.raw' }] };
    await expect(resolveTargets(gone, 'host-2')).rejects.toThrow(/does not exist on the receiver/);
  });

  it('puts targets in --target-dir, refuses two disks onto one name and a relative dir', async () => {
    const { dir, plan } = await setup();
    const tdir = await mkdtemp(path.join(dir, 't-'));
    const [t] = await resolveTargets({ ...plan, targetDir: tdir }, 'host-1');
    expect(t).toMatchObject({ target: path.join(tdir, 'disk.raw'), exists: false });
    const two = {
      ...plan,
      targetDir: tdir,
      disks: [plan.disks[0]!, { ...plan.disks[0]!, id: 'xvdb', path: '/elsewhere/disk.raw' }],
    };
    await expect(resolveTargets(two, 'host-1')).rejects.toThrow(/both be mirrored onto/);
    await expect(resolveTargets({ ...plan, targetDir: 'rel' }, 'host-1')).rejects.toThrow(/absolute/);
  });

  it('checks free space against the source allocation', async () => {
    const { dir, plan } = await setup();
    const huge = { ...plan.disks[0]!, allocation: 2 ** 52 };
    await expect(
      checkFreeSpace([{ disk: huge, target: path.join(dir, 'x.raw'), exists: false }]),
    ).rejects.toThrow(/not enough free space for disk\(s\) xvda/);
    await expect(
      checkFreeSpace([{ disk: huge, target: path.join(dir, 'x.raw'), exists: true }]),
    ).resolves.toBeUndefined();
  });

  it('creates sparse targets of the right size and removes only what it created', async () => {
    const { dir, plan } = await setup();
    const tdir = await mkdtemp(path.join(dir, 't-'));
    const targets = await resolveTargets({ ...plan, targetDir: tdir }, 'host-1');
    const created = await createTargets(targets);
    expect(created).toEqual([path.join(tdir, 'disk.raw')]);
    const st = await stat(created[0]!);
    expect(st.size).toBe(1 << 20);
    expect(st.blocks * 512).toBeLessThan(64 * 1024);
    await removeTargets(created);
    await expect(stat(created[0]!)).rejects.toThrow();
  });

  it('never overwrites a target that appeared after the check, and leaves it in place', async () => {
    const { dir, plan } = await setup();
    const tdir = await mkdtemp(path.join(dir, 't-'));
    const targets = await resolveTargets({ ...plan, targetDir: tdir }, 'host-1');
    const intruder = path.join(tdir, 'disk.raw');
    await writeFile(intruder, 'not ours');
    await expect(createTargets(targets)).rejects.toThrow(
      /appeared meanwhile on the receiver: .*disk\.raw \(EEXIST\)/,
    );
    expect(await readFile(intruder, 'utf8')).toBe('not ours');
  });
});
