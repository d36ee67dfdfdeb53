import { chmod, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { DiskPlan } from '@xlkit/stream';
import { openTargetRoot } from './target-root.js';
import { checkFreeSpace, createTargets, markerPath, removeTargets, resolveTargets } from './targets.js';

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
    await expect(resolveTargets(plan, 'host-1', dir)).rejects.toThrow(/onto itself/);
    const alias = path.join(dir, 'alias');
    await import('node:fs/promises').then((fs) => fs.link(src, path.join(dir, 'alias.raw')));
    await expect(
      resolveTargets(
        { ...plan, disks: [{ ...plan.disks[0]!, path: alias + '.raw' }], reuseTarget: true },
        'host-1',
        dir,
      ),
    ).rejects.toThrow(/onto itself/);
  });

  it('on another host the same path is fine when the file is not there, and refused when it exists', async () => {
    const { dir, plan } = await setup();
    await expect(resolveTargets(plan, 'host-2', dir)).rejects.toThrow(/already exists on the receiver/);
    const gone = { ...plan, disks: [{ ...plan.disks[0]!, path: path.join(dir, 'no-such-dir/disk.raw') }] };
    await expect(resolveTargets(gone, 'host-2', dir)).rejects.toThrow(/does not exist on the receiver/);
  });

  it('puts targets in --target-dir, refuses two disks onto one name and a relative dir', async () => {
    const { dir, plan } = await setup();
    const tdir = await mkdtemp(path.join(dir, 't-'));
    const [t] = await resolveTargets({ ...plan, targetDir: tdir }, 'host-1', dir);
    expect(t).toMatchObject({ target: path.join(tdir, 'disk.raw'), exists: false });
    const two = {
      ...plan,
      targetDir: tdir,
      disks: [plan.disks[0]!, { ...plan.disks[0]!, id: 'xvdb', path: '/elsewhere/disk.raw' }],
    };
    await expect(resolveTargets(two, 'host-1', dir)).rejects.toThrow(/both be mirrored onto/);
    await expect(resolveTargets({ ...plan, targetDir: 'rel' }, 'host-1', dir)).rejects.toThrow(
      /absolute path/,
    );
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
    const targets = await resolveTargets({ ...plan, targetDir: tdir }, 'host-1', dir);
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
    const targets = await resolveTargets({ ...plan, targetDir: tdir }, 'host-1', dir);
    const intruder = path.join(tdir, 'disk.raw');
    await writeFile(intruder, 'not ours');
    await expect(createTargets(targets)).rejects.toThrow(
      /appeared meanwhile on the receiver: .*disk\.raw \(EEXIST\)/,
    );
    expect(await readFile(intruder, 'utf8')).toBe('not ours');
  });

  it('creates each target 0600 with a marker naming it', async () => {
    const { dir, plan } = await setup();
    const [t] = await createTargets(
      await resolveTargets(
        { ...plan, targetDir: dir, disks: [{ ...plan.disks[0]!, path: '/src/new.raw' }] },
        'host-2',
        dir,
      ),
    );
    expect((await stat(t!)).mode & 0o777).toBe(0o600);
    const st = await stat(t!);
    expect(await readFile(markerPath(t!), 'utf8')).toBe(`${st.dev}:${st.ino}\n`);
    await removeTargets([t!]);
    await expect(stat(markerPath(t!))).rejects.toThrow();
  });
});

describe('a sender is confined to the receiver target root', () => {
  it('refuses any target outside the root: /etc/passwd, --target-dir /root/.ssh, a .. in the dir', async () => {
    const { dir, plan } = await setup();
    const disk = (p: string) => ({ ...plan, reuseTarget: true, disks: [{ ...plan.disks[0]!, path: p }] });
    await expect(resolveTargets(disk('/etc/passwd'), 'host-2', dir)).rejects.toThrow(
      /target \/etc\/passwd for disk xvda is outside the receiver's target directory/,
    );
    await expect(
      resolveTargets({ ...disk('/x/authorized_keys'), targetDir: '/root/.ssh' }, 'host-2', dir),
    ).rejects.toThrow(/outside the receiver's target directory/);
    await expect(resolveTargets({ ...plan, targetDir: `${dir}/../etc` }, 'host-2', dir)).rejects.toThrow(
      /outside the receiver's target directory/,
    );
    await expect(resolveTargets(disk(`${dir}/.hidden`), 'host-2', dir)).rejects.toThrow(
      /not a plain image file name/,
    );
  });

  it('follows no symlink out of the root and replaces none', async () => {
    const { dir, plan } = await setup();
    const out = await mkdtemp(path.join(tmpdir(), 'xlkit-outside-'));
    dirs.push(out);
    await symlink(out, path.join(dir, 'escape'));
    await expect(
      resolveTargets({ ...plan, targetDir: path.join(dir, 'escape') }, 'host-2', dir),
    ).rejects.toThrow(/escape \(through a symlink\) is outside/);
    await symlink(path.join(out, 'victim'), path.join(dir, 'link.raw'));
    const linked = {
      ...plan,
      reuseTarget: true,
      disks: [{ ...plan.disks[0]!, path: '/src/link.raw' }],
      targetDir: dir,
    };
    await expect(resolveTargets(linked, 'host-2', dir)).rejects.toThrow(/is a symlink/);
  });

  it('--reuse-target reuses only an image xl created, never one it did not', async () => {
    const { dir, plan } = await setup();
    const foreign = path.join(dir, 'foreign.raw');
    await writeFile(foreign, 'precious');
    const reuse = (p: string) => ({
      ...plan,
      reuseTarget: true,
      targetDir: dir,
      disks: [{ ...plan.disks[0]!, path: p }],
    });
    await expect(resolveTargets(reuse('/src/foreign.raw'), 'host-2', dir)).rejects.toThrow(
      /was not created by xl on the receiver/,
    );
    // A forged marker naming another file does not help.
    await writeFile(markerPath(foreign), '1:1\n');
    await expect(resolveTargets(reuse('/src/foreign.raw'), 'host-2', dir)).rejects.toThrow(
      /was not created by xl/,
    );
    expect(await readFile(foreign, 'utf8')).toBe('precious');
    const [made] = await createTargets(await resolveTargets(reuse('/src/ours.raw'), 'host-2', dir));
    const [again] = await resolveTargets(reuse('/src/ours.raw'), 'host-2', dir);
    expect(again).toMatchObject({ target: made, exists: true });
  });

  it('the root: created 0700; a symlink or a directory others can write is refused', async () => {
    const { dir } = await setup();
    const root = path.join(dir, 'a/b/disks');
    expect(await openTargetRoot(root)).toBe(root);
    expect((await stat(root)).mode & 0o777).toBe(0o700);
    await symlink(root, path.join(dir, 'link'));
    await expect(openTargetRoot(path.join(dir, 'link'))).rejects.toThrow(
      /not a directory \(a symlink is not taken\)/,
    );
    const open = path.join(dir, 'open');
    await mkdir(open);
    await chmod(open, 0o777);
    await expect(openTargetRoot(open)).rejects.toThrow(/writable by no one else/);
  });
});
