import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { DiskSpec } from '../config/disk-spec.js';
import { buildDiskPlan, formatDiskPlan } from './disk-plan.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function image(name: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'xlkit-plan-'));
  dirs.push(dir);
  const file = path.join(dir, name);
  writeFileSync(file, Buffer.alloc(8192, 1));
  return file;
}

const disk = (vdev: string, target: string | undefined, extra: Partial<DiskSpec> = {}): DiskSpec => ({
  format: 'raw',
  vdev,
  bus: 'virtio',
  index: 0,
  readOnly: false,
  cdrom: false,
  ...(target === undefined ? {} : { target }),
  ...extra,
});
const opts = { hostId: 'h1', transport: 'tunnel' as const, syncWrites: false, reuseTarget: false };
const info = (id: string) => ({ id, format: 'raw', virtualSize: 8192, allocation: 8192 });

describe('buildDiskPlan', () => {
  it('mirrors writable local disks and skips read-only, cdrom and shared ones, saying why', async () => {
    const local = image('a.raw');
    const ro = image('b.raw');
    const nfs = image('c.raw');
    const built = await buildDiskPlan(
      [
        disk('xvda', local),
        disk('xvdb', ro, { readOnly: true }),
        disk('xvdc', nfs, { shared: true }),
        disk('hdc', undefined, { bus: 'ide', cdrom: true, readOnly: true }),
      ],
      [info('xvda'), info('xvdb'), info('xvdc')],
      opts,
    );
    expect(built.plan.disks.map((d) => d.id)).toEqual(['xvda']);
    expect(built.plan.disks[0]).toMatchObject({ path: local, virtualSize: 8192, format: 'raw' });
    expect(built.skipped).toEqual([
      { id: 'xvdb', reason: 'read-only' },
      { id: 'xvdc', reason: 'shared' },
      { id: 'hdc', reason: 'cdrom' },
    ]);
    expect(formatDiskPlan(built).join('\n')).toMatch(/xvdc: not copied \(shared\)/);
  });

  it('refuses a domain with nothing to mirror', async () => {
    const nfs = image('c.raw');
    await expect(buildDiskPlan([disk('xvda', nfs, { shared: true })], [info('xvda')], opts)).rejects.toThrow(
      /no writable disk to mirror/,
    );
  });
});
