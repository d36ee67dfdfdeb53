import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { DiskPlan } from '@xlkit/stream';
import { afterAll, describe, expect, test } from 'vitest';
import { checkExportSocket, readLocalIdentity, senderIsLocal, type LocalIdentity } from './local-peer.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-local-peer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const me: LocalIdentity = { netns: 'net:[42]', mntns: 'mnt:[7]', uid: 1000 };

function planFor(image: string, over: Partial<DiskPlan> = {}): DiskPlan {
  const st = statSync(image);
  return {
    hostId: 'boot-1',
    netns: 'net:[42]',
    mntns: 'mnt:[7]',
    uid: 1000,
    transport: 'direct',
    syncWrites: false,
    reuseTarget: false,
    disks: [
      {
        id: 'xvda',
        format: 'raw',
        virtualSize: 4096,
        allocation: 4096,
        path: image,
        dev: st.dev,
        ino: st.ino,
      },
    ],
    ...over,
  };
}

describe('senderIsLocal', () => {
  const image = path.join(dir, 'disk.raw');
  writeFileSync(image, Buffer.alloc(4096));

  test('same boot id, namespaces and user, and the image is the same file here: local', async () => {
    expect(await senderIsLocal(planFor(image), 'boot-1', me)).toBe(true);
    expect(await senderIsLocal(planFor(image, { uid: 0 }), 'boot-1', me)).toBe(true);
  });

  test('another kernel, network or mount namespace, another user, or an old sender: not local', async () => {
    expect(await senderIsLocal(planFor(image), 'boot-2', me)).toBe(false);
    expect(await senderIsLocal(planFor(image), 'boot-1', { ...me, netns: 'net:[43]' })).toBe(false);
    expect(await senderIsLocal(planFor(image), 'boot-1', { ...me, mntns: 'mnt:[8]' })).toBe(false);
    expect(await senderIsLocal(planFor(image, { uid: 1001 }), 'boot-1', me)).toBe(false);
    const { netns: _n, mntns: _m, uid: _u, ...old } = planFor(image);
    expect(await senderIsLocal(old, 'boot-1', me)).toBe(false);
    expect(await senderIsLocal(planFor(image, { hostId: 'unknown' }), 'unknown', me)).toBe(false);
  });

  test('a different file under the same path, or no such file: not local', async () => {
    const plan = planFor(image);
    expect(
      await senderIsLocal(
        { ...plan, disks: plan.disks.map((d) => ({ ...d, ino: d.ino + 1 })) },
        'boot-1',
        me,
      ),
    ).toBe(false);
    expect(
      await senderIsLocal(
        { ...plan, disks: plan.disks.map((d) => ({ ...d, path: path.join(dir, 'missing.raw') })) },
        'boot-1',
        me,
      ),
    ).toBe(false);
  });

  test("reads this process's namespaces and euid", async () => {
    const id = await readLocalIdentity();
    expect(id.netns).toMatch(/^net:\[\d+\]$/);
    expect(id.mntns).toMatch(/^mnt:\[\d+\]$/);
    expect(id.uid).toBe(process.geteuid!());
    expect((await readLocalIdentity(path.join(dir, 'no-ns'))).netns).toBe('unknown');
  });
});

describe('checkExportSocket', () => {
  const disks = [{ id: 'xvda', exportName: 'xlkit-xvda', target: '/t/a.raw' }];

  test('accepts a listening unix socket of this user; TCP exports need no check', async () => {
    const sock = path.join(dir, 'nbd.sock');
    const server = createServer();
    await new Promise<void>((r) => server.listen(sock, () => r()));
    try {
      await expect(checkExportSocket({ transport: 'direct', socket: sock, disks })).resolves.toBeUndefined();
      await expect(
        checkExportSocket({ transport: 'direct', socket: sock, disks }, 0),
      ).resolves.toBeUndefined();
      await expect(
        checkExportSocket({ transport: 'direct', socket: sock, disks }, process.geteuid!() + 1),
      ).rejects.toMatchObject({ message: expect.stringMatching(/belongs to uid/) });
    } finally {
      server.close();
    }
    await expect(
      checkExportSocket({ transport: 'direct', host: '127.0.0.1', port: 10809, disks }),
    ).resolves.toBeUndefined();
  });

  test('refuses a path that is missing or not a socket', async () => {
    await expect(
      checkExportSocket({ transport: 'direct', socket: path.join(dir, 'nope.sock'), disks }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/not a socket on this host/) });
    await expect(
      checkExportSocket({ transport: 'direct', socket: path.join(dir, 'disk.raw'), disks }),
    ).rejects.toMatchObject({ message: expect.stringMatching(/not a socket/) });
  });
});
