import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { DiskPlan } from '@xlkit/stream';
import { afterAll, describe, expect, test } from 'vitest';
import { readNetNamespace, senderIsLocal } from './local-peer.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'xl-local-peer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function planFor(image: string, over: Partial<DiskPlan> = {}): DiskPlan {
  const st = statSync(image);
  return {
    hostId: 'boot-1', netns: 'net:[42]', transport: 'direct', syncWrites: false, reuseTarget: false,
    disks: [{ id: 'xvda', format: 'raw', virtualSize: 4096, allocation: 4096, path: image, dev: st.dev, ino: st.ino }],
    ...over,
  };
}

describe('senderIsLocal', () => {
  const image = path.join(dir, 'disk.raw');
  writeFileSync(image, Buffer.alloc(4096));

  test('same boot id, same network namespace, and the image is the same file here: local', async () => {
    expect(await senderIsLocal(planFor(image), 'boot-1', 'net:[42]')).toBe(true);
  });

  test('another kernel, another network namespace, or an old sender without one: not local', async () => {
    expect(await senderIsLocal(planFor(image), 'boot-2', 'net:[42]')).toBe(false);
    expect(await senderIsLocal(planFor(image), 'boot-1', 'net:[43]')).toBe(false);
    const { netns: _n, ...old } = planFor(image);
    expect(await senderIsLocal(old, 'boot-1', 'net:[42]')).toBe(false);
    expect(await senderIsLocal(planFor(image, { hostId: 'unknown' }), 'unknown', 'net:[42]')).toBe(false);
  });

  test('a different file under the same path (another mount view), or no such file: not local', async () => {
    const plan = planFor(image);
    const other = { ...plan, disks: plan.disks.map((d) => ({ ...d, ino: d.ino + 1 })) };
    expect(await senderIsLocal(other, 'boot-1', 'net:[42]')).toBe(false);
    const gone = { ...plan, disks: plan.disks.map((d) => ({ ...d, path: path.join(dir, 'missing.raw') })) };
    expect(await senderIsLocal(gone, 'boot-1', 'net:[42]')).toBe(false);
  });

  test('reads this process\'s network namespace', async () => {
    expect(await readNetNamespace()).toMatch(/^net:\[\d+\]$/);
    expect(await readNetNamespace(path.join(dir, 'no-such-link'))).toBe('unknown');
  });
});
