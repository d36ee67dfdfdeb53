import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chmod, mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ensureOwnDir } from './own-dir.js';
import { openStore } from './domain-store.js';

const uid = process.geteuid?.() ?? 0;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'xl-own-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mode = async (p: string) => (await stat(p)).mode & 0o7777;

describe('ensureOwnDir', () => {
  it('creates a missing directory, and its missing parents, with mode 0700', async () => {
    const deep = path.join(dir, 'a', 'b');
    await ensureOwnDir(deep);
    expect(await mode(deep)).toBe(0o700);
    expect(await mode(path.join(dir, 'a'))).toBe(0o700);
  });

  it('takes an existing directory of its own as it is: never chmods it', async () => {
    const d = path.join(dir, 'd');
    await mkdir(d);
    await chmod(d, 0o755);
    await ensureOwnDir(d);
    expect(await mode(d)).toBe(0o755);
  });

  it('refuses a directory writable by its group or others, leaving its mode alone', async () => {
    const d = path.join(dir, 'd');
    await mkdir(d);
    await chmod(d, 0o770);
    await expect(ensureOwnDir(d)).rejects.toThrow(/writable by its group \(mode 0770\)/);
    await chmod(d, 0o1777);
    await expect(ensureOwnDir(d)).rejects.toThrow(/writable by its group and others \(mode 1777\)/);
    expect(await mode(d)).toBe(0o1777);
  });

  it('refuses a directory owned by another uid', async () => {
    await expect(ensureOwnDir(dir, uid + 1)).rejects.toMatchObject({
      code: 'XL_STATE',
      message: expect.stringContaining(`owned by uid ${uid}, not by uid ${uid + 1}`),
    });
  });

  it('refuses a symlink, even to a directory of its own, and does not follow it', async () => {
    const real = path.join(dir, 'real');
    await mkdir(real, { mode: 0o700 });
    const link = path.join(dir, 'link');
    await symlink(real, link);
    await expect(ensureOwnDir(link)).rejects.toThrow(/symbolic link/);
    const dangling = path.join(dir, 'dangling');
    await symlink(path.join(dir, 'nowhere'), dangling);
    await expect(ensureOwnDir(dangling)).rejects.toThrow(/symbolic link/);
    await expect(stat(path.join(dir, 'nowhere'))).rejects.toThrow(/ENOENT/);
  });

  it('refuses a file', async () => {
    await expect(ensureOwnDir(path.join(os.tmpdir(), '..', 'etc', 'hostname'))).rejects.toThrow(
      /not a directory/,
    );
  });
});

describe('openStore', () => {
  it('XL_STATE_DIR=/tmp is refused and /tmp keeps its mode', async () => {
    const before = await mode('/tmp');
    await expect(openStore(undefined, { XL_STATE_DIR: '/tmp' })).rejects.toThrow(
      /refusing state directory \/tmp: it is writable by its group and others/,
    );
    expect(await mode('/tmp')).toBe(before);
  });

  it('refuses a state dir whose domains directory is a symlink', async () => {
    const state = path.join(dir, 's');
    await mkdir(state, { mode: 0o700 });
    await mkdir(path.join(dir, 'elsewhere'), { mode: 0o700 });
    await symlink(path.join(dir, 'elsewhere'), path.join(state, 'domains'));
    await expect(openStore(state, {})).rejects.toThrow(/domains: it is a symbolic link/);
  });

  it('names the directory by its canonical path', async () => {
    await mkdir(path.join(dir, 'real'), { mode: 0o700 });
    await symlink(path.join(dir, 'real'), path.join(dir, 'alias'));
    const store = await openStore(path.join(dir, 'alias', 's'), {});
    expect(store.root).toBe(path.join(dir, 'real', 's'));
  });
});
