import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { XlError } from '../errors.js';
import { chooseAccel, describeAccel, incomingAccel } from './accel.js';

let dir: string;
let qemu: string;
let device: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'xl-accel-'));
  qemu = path.join(dir, 'qemu-system-x86_64');
  device = path.join(dir, 'kvm');
  await writeFile(qemu, 'a QEMU binary\n', { mode: 0o755 });
  await writeFile(device, '');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const auto = () => ({ accel: 'auto' as const, deviceModel: qemu });
const opts = (probe = vi.fn(async () => ({ works: false, why: 'the probe guest did not boot' }))) => ({
  cacheDir: path.join(dir, 'cache'),
  env: {},
  device,
  probe,
});

describe('chooseAccel', () => {
  it('uses the config as written, and XL_ACCEL for auto', async () => {
    const o = opts();
    expect(await chooseAccel({ accel: 'tcg' }, o)).toEqual({
      accel: 'tcg',
      why: 'accel = "tcg" in the config',
    });
    expect(await chooseAccel({ accel: 'kvm' }, { ...o, env: { XL_ACCEL: 'tcg' } })).toMatchObject({
      accel: 'kvm',
    });
    expect(await chooseAccel(auto(), { ...o, env: { XL_ACCEL: 'kvm' } })).toEqual({
      accel: 'kvm',
      why: 'XL_ACCEL=kvm',
    });
    await expect(chooseAccel(auto(), { ...o, env: { XL_ACCEL: 'hvf' } })).rejects.toThrow(XlError);
    expect(o.probe).not.toHaveBeenCalled();
  });

  it('probes once per binary, caches the verdict, and probes a changed binary again', async () => {
    const probe = vi.fn(async () => ({ works: true, why: 'a probe guest booted under KVM in 90 ms' }));
    const o = opts(probe);
    expect(await chooseAccel(auto(), o)).toEqual({
      accel: 'kvm',
      why: 'a probe guest booted under KVM in 90 ms',
    });
    expect(await chooseAccel(auto(), o)).toEqual({
      accel: 'kvm',
      why: 'a probe guest booted under KVM in 90 ms; cached',
    });
    expect(probe).toHaveBeenCalledTimes(1);
    await utimes(qemu, new Date(), new Date(Date.now() + 5000));
    await chooseAccel(auto(), o);
    expect(probe).toHaveBeenCalledTimes(2);
  });

  it('falls back to TCG with the reason, and says so in one line', async () => {
    const choice = await chooseAccel(auto(), opts());
    expect(choice).toEqual({ accel: 'tcg', why: 'the probe guest did not boot' });
    expect(describeAccel(choice)).toBe('accel: tcg (the probe guest did not boot)');
    const missing = await chooseAccel(auto(), { ...opts(), device: path.join(dir, 'none') });
    expect(missing).toEqual({ accel: 'tcg', why: `${path.join(dir, 'none')} is missing` });
  });

  it('never probes in a dry run: a cached verdict or none', async () => {
    const o = opts();
    expect(await chooseAccel(auto(), { ...o, spawn: false })).toBeUndefined();
    expect(describeAccel(undefined)).toBe('accel: auto (not probed in a dry run)');
    await chooseAccel(auto(), o);
    expect(await chooseAccel(auto(), { ...o, spawn: false })).toMatchObject({ accel: 'tcg' });
    expect(o.probe).toHaveBeenCalledTimes(1);
  });
});

describe('incomingAccel', () => {
  it('keeps the accelerator the domain ran under when this host can run it', async () => {
    const o = opts();
    expect(await incomingAccel(auto(), 'tcg', o)).toMatchObject({ accel: 'tcg' });
    expect(o.probe).not.toHaveBeenCalled();
    expect(await incomingAccel(auto(), 'kvm', o)).toEqual({
      accel: 'tcg',
      why: 'the probe guest did not boot',
    });
    expect(await incomingAccel({ accel: 'tcg' }, 'kvm', o)).toEqual({
      accel: 'tcg',
      why: 'accel = "tcg" in the config',
    });
  });
});
